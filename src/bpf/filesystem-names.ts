/**
 * Names of the filesystems statfs(2) reports by magic number (linux/magic.h),
 * so an error can say "on sysfs" instead of "magic 0x62656572".
 */
export const BPF_FS_MAGIC = 0xcafe4a11;

const NAMES: ReadonlyMap<number, string> = new Map([
  [BPF_FS_MAGIC, 'bpffs'],
  [0x62656572, 'sysfs'],
  [0x9fa0, 'proc'],
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
  [0xef53, 'ext2/ext3/ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x794c7630, 'overlayfs'],
  [0x6969, 'nfs'],
  [0x65735546, 'fuse'],
  [0x73717368, 'squashfs'],
  [0x2fc12fc1, 'zfs'],
  [0x63677270, 'cgroup2'],
  [0x27e0eb, 'cgroup'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x1cd1, 'devpts'],
]);

/** "sysfs", or "an unknown filesystem (magic 0x…)". */
export function filesystemName(magic: number): string {
  const m = magic >>> 0;
  return NAMES.get(m) ?? `an unknown filesystem (magic 0x${m.toString(16)})`;
}

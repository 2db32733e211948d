/**
 * Every error code netprobe raises on purpose, with what it means and what to
 * do about it (like fastify's FST_ERR_* catalogue). A code is stable: tests
 * and scripts match on it. A new code is one entry here plus one row in
 * docs/troubleshooting.md (a unit test checks both lists agree).
 *
 * `hint` is the default advice appended to the message; a call may pass a
 * more specific one (e.g. naming the port that is taken).
 */
export interface ErrorCatalogueEntry {
  /** What went wrong, in one sentence (the troubleshooting table's "meaning"). */
  readonly summary: string;
  /** What to do about it, appended to the message after "; ". */
  readonly hint: string;
}

export const ERROR_CATALOGUE = {
  NP_ERR_NO_PRIVILEGE: {
    summary: 'loading or attaching the eBPF program was refused (EPERM/EACCES)',
    hint:
      'netprobe needs the capabilities CAP_BPF and CAP_NET_ADMIN: run as root, or grant them (e.g. `setcap cap_bpf,cap_net_admin+ep`, ' +
      'or securityContext.capabilities.add: [BPF, NET_ADMIN] in Kubernetes); ' +
      'ignore any libbpf message about RLIMIT_MEMLOCK, it is not the cause on kernels >= 5.11',
  },
  NP_ERR_SECCOMP: {
    summary: "bpf(2) was refused (EPERM) although CAP_BPF and CAP_NET_ADMIN are held: the container's seccomp profile blocks it",
    hint:
      'the runtime default seccomp profile of podman, CRI-O and older Docker/containerd allows bpf only with CAP_SYS_ADMIN: ' +
      'use the profile shipped in deploy/kubernetes/seccomp/netprobe.json (seccompProfile type Localhost, see docs/deployment.md), ' +
      'or `--security-opt seccomp=<that file>` with podman/Docker',
  },
  NP_ERR_NO_LIBBPF: {
    summary: 'libbpf.so.1 could not be loaded',
    hint: 'install it (Debian/Ubuntu: `apt-get install libbpf1`; Fedora/RHEL: `dnf install libbpf`), or run with --source=netdev',
  },
  NP_ERR_BPF_LOAD: {
    summary: 'the kernel (verifier) rejected the BPF program',
    hint: 'run with --log.level=debug to see the verifier log; the kernel may be too old for this program (Linux 5.8+ is needed)',
  },
  NP_ERR_NO_TCX: {
    summary: 'attach mode tcx on a kernel without tcx links (before Linux 6.6)',
    hint: 'use --ebpf.attach-mode=auto (picks tcx when available, else clsact) or --ebpf.attach-mode=tc',
  },
  NP_ERR_TC_HANDLE_TAKEN: {
    summary: "clsact mode: netprobe's filter handle and priority on a hook belong to another program, which was left alone",
    hint: 'use --ebpf.attach-mode=tcx on Linux 6.6+, or remove that filter if it is stale',
  },
  NP_ERR_MAP_FULL: {
    summary: 'more interfaces than the BPF counter maps hold; this interface is not counted',
    hint: 'this interface is not counted (netprobe_source_interfaces_uncounted); everything else still is',
  },
  NP_ERR_ABI_MISMATCH: {
    summary: 'the BPF object or libbpf does not match what this build expects (a program, map or struct layout)',
    hint: 'this build of netprobe does not match the installed libbpf.so.1 or its BPF object: reinstall netprobe (`npm run build:bpf` rebuilds the object from bpf/)',
  },
  NP_ERR_BPF: {
    summary: 'another libbpf or bpf(2) call failed; the message names the call and the errno',
    hint: 'run with --log.level=debug for the calls that led to it',
  },
  NP_ERR_NETLINK: {
    summary: 'the netlink socket that follows interface changes, or a link dump, failed',
    hint: 'missed events (ENOBUFS) are handled by re-reading the interface list; otherwise see the operation and errno named above',
  },
  NP_ERR_PIN_PATH: {
    summary: '--ebpf.pin-path is not usable: not on a bpffs mount (the message names the filesystem found), or not writable',
    hint: "mount a bpffs there (`mount -t bpf bpf /sys/fs/bpf`; Kubernetes: the DaemonSet's hostPath volume of /sys/fs/bpf; under `ip netns exec`, which remounts /sys, use `nsenter --net=` instead) or leave --ebpf.pin-path empty",
  },
  NP_ERR_PIN_LOCKED: {
    summary:
      'another netprobe holds --ebpf.pin-path (an exclusive lock on the directory) and did not let go within --ebpf.pin-lock-timeout; the message names its PID where this PID namespace can see it',
    hint: 'stop the other netprobe (a second DaemonSet, an old pod, a manual run) or give this one another --ebpf.pin-path; if a rollout overlaps the old pod for longer, raise --ebpf.pin-lock-timeout',
  },
  NP_ERR_PIN_CORRUPT: {
    summary: "pinned state named as this version's is incomplete or not what netprobe pins; it was not trusted and not deleted",
    hint: 'inspect it (`ls -R` the directory, `bpftool map show pinned <path>`); if nothing else uses it, delete it by hand and start again',
  },
  NP_ERR_PIN_UNKNOWN: {
    summary:
      "pinned state of a netprobe version whose counters this version cannot read, or something that is not netprobe's, sits under the pin path; it was left alone",
    hint: "run that version's --ebpf.cleanup, or delete it by hand after checking it with bpftool",
  },
  NP_ERR_NO_CGROUP2: {
    summary: 'the socket meter (per-pod socket counts) needs the cgroup v2 hierarchy, and no cgroup2 mount of its root was found',
    hint:
      'mount the host cgroup2 filesystem into the container (hostPath /sys/fs/cgroup, read-only is enough; /sys/fs/cgroup/unified on hybrid nodes); ' +
      'nodes whose pods live only in cgroup v1 cannot be metered this way: the host-veth view still counts',
  },
  NP_ERR_NO_BTF: {
    summary:
      "drop counting by reason needs the kernel's own BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF=y), and it could not be read",
    hint:
      'use a kernel built with BTF (every major distribution since 2021), and mount the host /sys read-only into the container (a read-only /sys/kernel/btf hostPath is enough); ' +
      'everything else is still counted',
  },
  NP_ERR_NO_PERFMON: {
    summary:
      'drop counting by reason is a tracing program (skb:kfree_skb), which needs CAP_PERFMON beside CAP_BPF, and this process lacks it',
    hint:
      'grant CAP_PERFMON (Kubernetes: capabilities.add: [PERFMON]; setcap cap_perfmon), or turn drop counting off; ' +
      'it is needed only to load the program: --capabilities.keep may drop it afterwards; everything else is still counted',
  },
  NP_ERR_NO_DROP_TRACEPOINT: {
    summary: "this kernel's BTF has no skb:kfree_skb tracepoint that a tp_btf program can attach to (btf_trace_kfree_skb)",
    hint: 'drop counting by reason needs Linux 5.8 or newer with BTF (reasons need 5.17+); everything else is still counted',
  },
  NP_ERR_BAD_OPTION: {
    summary: 'an EbpfManager option is out of range (library API)',
    hint: 'fix the option named above',
  },
  NP_ERR_STATE: {
    summary: 'the eBPF manager was used out of order (e.g. loaded twice)',
    hint: 'a bug in the calling program: load once, close once',
  },
  NP_ERR_EXPORTER_CONFIG: {
    summary: 'the Exporter was given an invalid configuration (library API)',
    hint: 'fix the fields named above (durations are milliseconds in the TypeScript API)',
  },
  NP_ERR_EXPORTER_STATE: {
    summary: 'the Exporter was used out of order (e.g. started twice)',
    hint: 'a bug in the calling program: start once, stop when done',
  },
  NP_ERR_LISTEN: {
    summary: 'the HTTP server could not listen (port in use, bad address)',
    hint: 'check server.host and server.port',
  },
  NP_ERR_WEB_CONFIG: {
    summary: 'the --web.config.file (TLS, basic auth) is invalid or unreadable',
    hint: 'fix the file (format: https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md) or leave --web.config.file empty for plain HTTP',
  },
  NP_ERR_BAD_GLOB: {
    summary: 'an interface pattern is not a valid glob',
    hint: 'use exact interface names or globs such as eth*, veth?*, {eth,ens}*',
  },
  NP_ERR_BAD_CAPABILITY: {
    summary: 'an unknown capability name in the capability keep-list',
    hint: 'use names like bpf, net_admin or cap_bpf',
  },
  NP_ERR_CAPABILITY_DROP: {
    summary: 'dropping capabilities after attaching failed',
    hint: 'run without --capabilities.keep, or report this with the output of `grep Cap /proc/self/status`',
  },
  NP_ERR_PROC_STATUS: {
    summary: '/proc/self/status lacks the capability lines netprobe reads',
    hint: 'is /proc mounted?',
  },
  NP_ERR_ASSET_MISSING: {
    summary: "a file of the overview page (its script, style, or uPlot's) is missing from the installation",
    hint: 'rebuild with `npm run build` (it copies src/http/assets/ to dist/http/assets/) and keep node_modules/uplot',
  },
  NP_ERR_TOP_FETCH: {
    summary: '`netprobe top` could not read the exporter (unreachable, TLS refused, credentials refused, or not a netprobe)',
    hint: 'check --url, the TLS options (--tls.ca-file, --tls.insecure-skip-verify) and the credentials (--auth.username, --auth.password-file)',
  },
} as const satisfies Record<`NP_ERR_${string}`, ErrorCatalogueEntry>;

/** A code of the catalogue; anything else is a type error. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Every code, in catalogue order. */
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** Narrows a string (e.g. a code read back from a log line) to a catalogue code. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

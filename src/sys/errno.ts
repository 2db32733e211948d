/** Readable errno text for messages, and the errno classes callers branch on. */
import { constants as os } from 'node:os';

const { EPERM, EACCES } = os.errno;

/** `EPERM (operation not permitted)` style text for a positive errno. */
export function describeErrno(errno: number): string {
  const name = Object.entries(os.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
  return `${name} (${errnoText(errno)})`;
}

function errnoText(errno: number): string {
  // util.getSystemErrorMessage exists only from Node 22: keep a short table of the ones we meet.
  const texts: Record<number, string> = {
    [os.errno.EPERM]: 'operation not permitted',
    [os.errno.EACCES]: 'permission denied',
    [os.errno.ENOENT]: 'no such file or directory',
    [os.errno.ENODEV]: 'no such device',
    [os.errno.EEXIST]: 'already exists',
    [os.errno.EINVAL]: 'invalid argument',
    [os.errno.E2BIG]: 'map is full',
    [os.errno.ENOSPC]: 'no space left',
    [os.errno.ENOMEM]: 'out of memory',
    [os.errno.EBUSY]: 'busy',
    [os.errno.ENOBUFS]: 'missed events, receive buffer overflowed',
    [os.errno.EOPNOTSUPP]: 'not supported',
  };
  return texts[errno] ?? 'system error';
}

export function isPermissionErrno(errno: number): boolean {
  return errno === EPERM || errno === EACCES;
}

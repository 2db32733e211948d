/**
 * The one rule for a listen host, shared by `--web.listen-address`,
 * `server.host` in the file and the TypeScript API: empty (all addresses), an
 * IP address, or a DNS host name (labels of 1 to 63 letters, digits and
 * hyphens, not starting or ending with a hyphen).
 */
import { isIP } from 'node:net';

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Why `host` cannot be listened on, or undefined. */
export function checkListenHost(host: string): string | undefined {
  if (host === '' || isIP(host) !== 0 || (host.length <= 253 && HOST_NAME.test(host))) return undefined;
  return 'must be an IP address or a host name (empty = all addresses)';
}

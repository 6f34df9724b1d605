/** The `http.trustedProxies` CIDRs: clients whose forwarding headers are kept and appended to. */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { parseCidr } from '../resolve/address-policy.js';

export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  private constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (cidr === null) throw new Error(`trustedProxies: ${JSON.stringify(text)} is not a CIDR prefix`);
      this.#list.addSubnet(cidr.address, cidr.prefix, cidr.family === 6 ? 'ipv6' : 'ipv4');
    }
    this.#empty = cidrs.length === 0;
  }

  /** Throws on an entry that is not a CIDR (validation reports those first). */
  static create(cidrs: readonly string[]): TrustedProxies {
    return new TrustedProxies(cidrs);
  }

  /** `address`: a client address already normalised (IPv4-mapped shown as IPv4). */
  contains(address: string): boolean {
    if (this.#empty) return false;
    if (isIPv4(address)) return this.#list.check(address, 'ipv4');
    if (isIPv6(address)) return this.#list.check(address, 'ipv6');
    return false;
  }
}

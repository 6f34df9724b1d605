/**
 * Which IPv6 addresses edge46 may dial. The check runs on every resolved address and again in the
 * dialer right before connect (STYLE.md §7), so a name that re-resolves to something else between the
 * two (DNS rebinding) is still caught. Containment is done by node's net.BlockList; this module only
 * orders the rules and names them.
 *
 * Order of the rules (the first that matches decides):
 *   1. not an IPv6 literal, or an IPv4 literal                            → refused, always
 *   2. ::/128, ::ffff:0:0/96, ::/96 (but ::1), ff00::/8, reservedPrefixes → refused, always
 *   3. backends.deny                                                      → refused
 *   4. ::1/128, fe80::/10, 100::/64 ("opt-in" ranges)                     → allowed only through an allow
 *      entry that lies inside the range: `::1/128` or `fe80::/64` let them in, `::/0` or `2000::/3` never
 *   5. backends.allow                                                     → allowed, else refused
 *
 * Decisions beyond the list:
 * - ::/96 (IPv4-compatible, deprecated by RFC 4291 §2.5.5.1) embeds an IPv4 address like ::ffff:0:0/96
 *   does; nothing legitimate lives there, so it is refused like the mapped range.
 * - 100::/64 (discard-only, RFC 6666) is black-holed by design: dialling it can only burn the connect
 *   timeout. It gets the opt-in rule of loopback rather than a hard refusal so that a test can name it.
 */
import { BlockList, isIPv4, isIPv6, SocketAddress } from 'node:net';

export interface AddressPolicyOptions {
  /** Prefixes that may be dialled (backends.allow). */
  readonly allow: readonly string[];
  /** Prefixes that are never dialled, even when inside `allow` (backends.deny). */
  readonly deny?: readonly string[];
  /** Always refused whatever `allow` says, e.g. the NAT46 source prefix edge46 itself uses. */
  readonly reservedPrefixes?: readonly string[];
}

export type AddressVerdict =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export interface Cidr {
  /** Network address in canonical (RFC 5952) form, host bits cleared. */
  readonly address: string;
  readonly prefix: number;
  readonly family: 4 | 6;
}

interface Range {
  readonly cidr: Cidr;
  readonly list: BlockList;
  readonly reason: string;
}

const ALLOWED: AddressVerdict = Object.freeze({ allowed: true });

function refused(reason: string): AddressVerdict {
  return { allowed: false, reason };
}

function rangeOf(text: string, reason: string): Range {
  const cidr = parseCidr(text);
  if (cidr === null || cidr.family !== 6) throw new Error(`invalid IPv6 prefix ${JSON.stringify(text)}`);
  const list = new BlockList();
  list.addSubnet(cidr.address, cidr.prefix, 'ipv6');
  return { cidr, list, reason };
}

// Checked in this order; ::/128 before ::/96 so the unspecified address gets its own reason.
const ALWAYS_REFUSED: readonly Range[] = [
  rangeOf('::/128', 'unspecified address'),
  rangeOf('::ffff:0:0/96', 'IPv4-mapped address'),
  rangeOf('ff00::/8', 'multicast address'),
];
const IPV4_COMPATIBLE = rangeOf('::/96', 'IPv4-compatible address (deprecated)');
const OPT_IN: readonly Range[] = [
  rangeOf('::1/128', 'loopback address not named in backends.allow'),
  rangeOf('fe80::/10', 'link-local address not named in backends.allow'),
  rangeOf('100::/64', 'discard-only address not named in backends.allow'),
];

export class AddressPolicy {
  readonly #allow: readonly Cidr[];
  readonly #deny: readonly Cidr[];
  readonly #reserved: readonly Range[];
  readonly #allowList = new BlockList();
  readonly #denyList = new BlockList();
  /** Per opt-in range: the allow entries that lie inside it (null when there are none). */
  readonly #optIn: ReadonlyArray<{ readonly range: Range; readonly list: BlockList | null }>;

  private constructor(allow: readonly Cidr[], deny: readonly Cidr[], reserved: readonly Cidr[]) {
    this.#allow = allow;
    this.#deny = deny;
    for (const c of allow) this.#allowList.addSubnet(c.address, c.prefix, 'ipv6');
    for (const c of deny) this.#denyList.addSubnet(c.address, c.prefix, 'ipv6');
    this.#reserved = reserved.map((c) => rangeOf(formatCidr(c), `reserved prefix ${formatCidr(c)}`));
    this.#optIn = OPT_IN.map((range) => {
      const inside = allow.filter((c) => cidrInside(range.cidr, c));
      if (inside.length === 0) return { range, list: null };
      const list = new BlockList();
      for (const c of inside) list.addSubnet(c.address, c.prefix, 'ipv6');
      return { range, list };
    });
  }

  /** Throws an Error naming the first entry that is not an IPv6 prefix. */
  static create(opts: AddressPolicyOptions): AddressPolicy {
    const parse = (field: string, entries: readonly string[] | undefined): Cidr[] =>
      (entries ?? []).map((text, i) => {
        const cidr = parseCidr(text);
        if (cidr === null)
          throw new Error(`${field}[${i}]: ${JSON.stringify(text)} is not a valid CIDR prefix`);
        if (cidr.family !== 6) {
          throw new Error(`${field}[${i}]: ${JSON.stringify(text)} is IPv4; only IPv6 prefixes are dialled`);
        }
        return cidr;
      });
    return new AddressPolicy(
      parse('allow', opts.allow),
      parse('deny', opts.deny),
      parse('reservedPrefixes', opts.reservedPrefixes),
    );
  }

  /** `address`: an IPv6 literal in any textual form; a zone id (`fe80::1%eth0`) is ignored. */
  check(address: string): AddressVerdict {
    const percent = address.indexOf('%');
    const bare = percent === -1 ? address : address.slice(0, percent);
    if (isIPv4(bare)) return refused('IPv4 address');
    if (!isIPv6(bare)) return refused('not an IPv6 address');
    for (const r of ALWAYS_REFUSED) if (r.list.check(bare, 'ipv6')) return refused(r.reason);
    for (const r of this.#reserved) if (r.list.check(bare, 'ipv6')) return refused(r.reason);
    if (this.#denyList.check(bare, 'ipv6')) return refused('inside backends.deny');
    for (const { range, list } of this.#optIn) {
      if (range.list.check(bare, 'ipv6')) {
        return list?.check(bare, 'ipv6') === true ? ALLOWED : refused(range.reason);
      }
    }
    // After the loopback rule: ::1 lies inside ::/96 too.
    if (IPV4_COMPATIBLE.list.check(bare, 'ipv6')) return refused(IPV4_COMPATIBLE.reason);
    return this.#allowList.check(bare, 'ipv6') ? ALLOWED : refused('outside backends.allow');
  }

  isAllowed(address: string): boolean {
    return this.check(address).allowed;
  }

  describe(): { allow: string[]; deny: string[] } {
    return { allow: this.#allow.map(formatCidr), deny: this.#deny.map(formatCidr) };
  }
}

/** The canonical text of an IPv6 (or IPv4) address, or null when `text` is not one. Zone ids are kept. */
export function canonicalAddress(text: string): string | null {
  const percent = text.indexOf('%');
  const bare = percent === -1 ? text : text.slice(0, percent);
  const family = isIPv6(bare) ? 'ipv6' : isIPv4(bare) ? 'ipv4' : null;
  if (family === null) return null;
  const canonical = new SocketAddress({ address: bare, family }).address;
  return percent === -1 ? canonical : canonical + text.slice(percent);
}

/**
 * Parses "2001:db8::/32" (or a bare address, read as /128 or /32). Host bits are cleared
 * ("2001:db8::1/32" → 2001:db8::/32). Returns null for anything else, including zone ids.
 */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const family = isIPv6(addressText) ? 6 : isIPv4(addressText) ? 4 : 0;
  if (family === 0 || addressText.includes('%')) return null;
  const bits = family === 6 ? 128 : 32;
  let prefix = bits;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > bits) return null;
  }
  return { address: maskAddress(addressText, family, prefix), prefix, family };
}

/** True when IPv6 prefix `inner` lies entirely inside IPv6 prefix `outer`; false for anything invalid. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return o !== null && i !== null && o.family === 6 && i.family === 6 && cidrInside(o, i);
}

function cidrInside(outer: Cidr, inner: Cidr): boolean {
  if (inner.prefix < outer.prefix) return false;
  const list = new BlockList();
  list.addSubnet(outer.address, outer.prefix, 'ipv6');
  return list.check(inner.address, 'ipv6');
}

function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

function maskAddress(text: string, family: 4 | 6, prefix: number): string {
  const bits = family === 6 ? 128 : 32;
  const value = family === 6 ? ipv6ToBigInt(text) : ipv4ToBigInt(text);
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  const masked = value & mask;
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((masked >> shift) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((masked >> shift) & 0xffffn).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

function ipv4ToBigInt(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** `text` must already satisfy isIPv6 (no zone). */
function ipv6ToBigInt(text: string): bigint {
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Embedded dotted IPv4 ("::ffff:192.0.2.1") → its two hex groups.
    const v4 = ipv4ToBigInt(text.slice(lastColon + 1));
    hex = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const parse = (part: string): bigint[] => (part === '' ? [] : part.split(':').map((g) => BigInt(`0x${g}`)));
  const [left = '', right] = hex.split('::');
  const l = parse(left);
  const r = right === undefined ? [] : parse(right);
  const groups = [...l, ...new Array<bigint>(8 - l.length - r.length).fill(0n), ...r];
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

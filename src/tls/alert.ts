/** A fatal TLS alert record (RFC 8446 §6; §5.1 record layer), sent before closing a refused client. */
import type { TlsAlertCode } from '../errors.js';

const FATAL = 2;
const CONTENT_ALERT = 21;

/**
 * Record version 0x0303 is what TLS 1.2 and 1.3 peers expect on an unencrypted alert; TLS 1.0/1.1-only
 * clients still parse it as a fatal alert and give up.
 */
export function encodeAlert(description: TlsAlertCode): Buffer {
  return Buffer.from([CONTENT_ALERT, 0x03, 0x03, 0x00, 0x02, FATAL, description]);
}

// TFTP packet codec: opcodes and error codes (RFC 1350 section 5, RFC 2347), request parsing with
// options, and the small packets the server builds. DATA packets are laid out by block-reader.ts.
import { BadRequestError } from '../errors.ts';

/** Opcodes (RFC 1350 section 5; OACK from RFC 2347). */
export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** Error codes (RFC 1350 appendix; 8 from RFC 2347). */
export const ERR = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** Limits on a request packet; anything beyond them is malformed, not merely large. */
export const REQUEST_LIMITS = {
  /** RFC 2347 asks for 512; real clients stay far below this, long paths included. */
  maxBytes: 2048,
  maxOptions: 16,
  maxOptionName: 64,
  maxOptionValue: 255,
};

/** A parsed RRQ or WRQ. Option names are lower-cased (RFC 2347: case-insensitive). */
export interface RequestPacket {
  opcode: typeof OP.RRQ | typeof OP.WRQ;
  filename: string;
  /** Lower-cased transfer mode as sent (`octet`, `netascii`, `mail`, ...). */
  mode: string;
  options: Record<string, string>;
}

const utf8 = new TextDecoder('utf-8');

/** Returns the opcode of a packet, or -1 when it is shorter than an opcode. */
export function opcodeOf(buf: Buffer): number {
  return buf.length < 2 ? -1 : buf.readUInt16BE(0);
}

/** Returns the parsed RRQ/WRQ; throws BadRequestError naming what is wrong with it. */
export function parseRequest(buf: Buffer): RequestPacket {
  const opcode = opcodeOf(buf);
  if (opcode !== OP.RRQ && opcode !== OP.WRQ) throw new BadRequestError(`tftp request: opcode ${opcode} is not RRQ or WRQ`);
  if (buf.length > REQUEST_LIMITS.maxBytes) throw new BadRequestError(`tftp request: ${buf.length} bytes is over ${REQUEST_LIMITS.maxBytes}`);
  if (buf[buf.length - 1] !== 0) throw new BadRequestError('tftp request: last field is not NUL-terminated');
  const fields: string[] = [];
  let start = 2;
  for (let i = 2; i < buf.length; i++) {
    if (buf[i] !== 0) continue;
    fields.push(utf8.decode(buf.subarray(start, i)));
    start = i + 1;
  }
  const [filename, mode] = fields;
  if (fields.length < 2) throw new BadRequestError('tftp request: missing mode field');
  if (filename === '') throw new BadRequestError('tftp request: empty filename');
  if (mode === '') throw new BadRequestError('tftp request: empty mode');
  const options: Record<string, string> = {};
  // RFC 2347 section 2: option/value pairs follow the mode. Trailing NUL padding (some ROMs pad
  // requests) ends the list; a name without a value is malformed.
  for (let i = 2; i < fields.length; i += 2) {
    const name = fields[i].toLowerCase();
    if (name === '' && fields.slice(i).every((f) => f === '')) break;
    const value = fields[i + 1];
    if (value === undefined) throw new BadRequestError(`tftp request: option ${JSON.stringify(fields[i])} has no value`);
    if (name === '' || name.length > REQUEST_LIMITS.maxOptionName) {
      throw new BadRequestError(`tftp request: option name ${JSON.stringify(fields[i].slice(0, 40))} is empty or too long`);
    }
    if (value.length > REQUEST_LIMITS.maxOptionValue) {
      throw new BadRequestError(`tftp request: option ${JSON.stringify(name)} value is ${value.length} characters`);
    }
    if (Object.keys(options).length >= REQUEST_LIMITS.maxOptions) throw new BadRequestError('tftp request: too many options');
    // The first occurrence of a repeated option wins.
    if (!Object.hasOwn(options, name)) options[name] = value;
  }
  return { opcode, filename, mode: mode.toLowerCase(), options };
}

/** Returns the block number of an ACK packet, or -1 when the packet is not a well-formed ACK. */
export function parseAck(buf: Buffer): number {
  return buf.length >= 4 && buf.readUInt16BE(0) === OP.ACK ? buf.readUInt16BE(2) : -1;
}

/** Returns the code and message of an ERROR packet (message may lack its NUL), or null. */
export function parseError(buf: Buffer): { code: number; message: string } | null {
  if (buf.length < 4 || buf.readUInt16BE(0) !== OP.ERROR) return null;
  let end = buf.indexOf(0, 4);
  if (end < 0) end = buf.length;
  return { code: buf.readUInt16BE(2), message: utf8.decode(buf.subarray(4, Math.min(end, 4 + 200))) };
}

/** Returns an ERROR packet; the message is cut to stay well inside one small datagram. */
export function encodeError(code: number, message: string): Buffer {
  const text = Buffer.from(message.slice(0, 200), 'utf8');
  const buf = Buffer.alloc(5 + text.length);
  buf.writeUInt16BE(OP.ERROR, 0);
  buf.writeUInt16BE(code, 2);
  text.copy(buf, 4);
  return buf;
}

/** Returns an OACK packet carrying the given option/value pairs in order (RFC 2347 section 2). */
export function encodeOack(options: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, OP.OACK])];
  for (const [name, value] of options) parts.push(Buffer.from(`${name}\0${value}\0`, 'ascii'));
  return Buffer.concat(parts);
}

/** Returns an RRQ or WRQ packet (used by tests and clients). */
export function encodeRequest(opcode: number, filename: string, mode: string, options: Record<string, string | number> = {}): Buffer {
  let text = `${filename}\0${mode}\0`;
  for (const [k, v] of Object.entries(options)) text += `${k}\0${v}\0`;
  const body = Buffer.from(text, 'utf8');
  const buf = Buffer.alloc(2 + body.length);
  buf.writeUInt16BE(opcode, 0);
  body.copy(buf, 2);
  return buf;
}

/** Returns an ACK packet for a (wire, 16-bit) block number. */
export function encodeAck(block: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(OP.ACK, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
  return buf;
}

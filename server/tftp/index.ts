// The TFTP module's public face: a protocol-only server that asks a handler for each file.
export { TftpServer, type TftpHandler, type TftpRequest, type TransferSummary } from './server.ts';
export { TFTP_DEFAULTS, type TftpServerOptions } from './settings.ts';
export type { TftpStats, TftpCounters } from './stats.ts';
export type { TransferOutcome } from './transfer.ts';
export { ERR as TFTP_ERROR } from './packet.ts';

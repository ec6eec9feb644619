// The connection file Jupyter hands the kernel: where to listen and the signing key.
import * as fs from 'fs';

export interface ConnectionInfo {
  transport: 'tcp' | 'ipc';
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export function readConnectionFile(file: string): ConnectionInfo {
  let parsed: Partial<ConnectionInfo>;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ConnectionInfo>;
  } catch (e) {
    throw new Error(`Cannot read the connection file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const c = { transport: 'tcp', signature_scheme: 'hmac-sha256', key: '', ...parsed } as ConnectionInfo;
  for (const port of ['shell_port', 'iopub_port', 'stdin_port', 'control_port', 'hb_port'] as const) {
    if (!Number.isInteger(c[port])) throw new Error(`Connection file ${file}: ${port} is missing or not an integer.`);
  }
  if (typeof c.ip !== 'string' || !c.ip) throw new Error(`Connection file ${file}: ip is missing.`);
  if (c.signature_scheme !== 'hmac-sha256' && c.key !== '') {
    throw new Error(`Connection file ${file}: signature scheme ${c.signature_scheme} is not supported (use hmac-sha256).`);
  }
  return c;
}

export function endpoint(c: ConnectionInfo, port: number): string {
  return c.transport === 'ipc' ? `ipc://${c.ip}-${port}` : `tcp://${c.ip}:${port}`;
}

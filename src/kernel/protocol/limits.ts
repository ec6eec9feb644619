// How large a message frame the kernel accepts: TFJS_ESTIMATOR_MAX_MESSAGE_BYTES, else 32 MiB
// (a cell of several MB passes; a 100 MB frame is refused before it is read).
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

export function maxMessageBytes(env: NodeJS.ProcessEnv): number {
  const raw = env.TFJS_ESTIMATOR_MAX_MESSAGE_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_MAX_MESSAGE_BYTES;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 4096) {
    throw new Error(
      `TFJS_ESTIMATOR_MAX_MESSAGE_BYTES=${raw} is not a whole number of bytes of at least 4096; set it to e.g. 67108864 (64 MiB), or unset it for the default of ${DEFAULT_MAX_MESSAGE_BYTES}.`,
    );
  }
  return n;
}

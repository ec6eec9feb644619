// input() for cells: asks the frontend through the stdin channel when it allows it.
type Provider = (prompt: string, password: boolean) => Promise<string>;

let provider: Provider | undefined;

export function setStdinProvider(p: Provider | undefined): void {
  provider = p;
}

/** Asks the user for a line of text (Jupyter's input_request). Works in the kernel only. */
export function input(prompt = '', opts: { password?: boolean } = {}): Promise<string> {
  if (!provider) return Promise.reject(new Error('input() needs the tfjs-estimator Jupyter kernel.'));
  return provider(prompt, opts.password ?? false);
}

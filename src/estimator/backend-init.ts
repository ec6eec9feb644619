// Picks the compute backend before the first step and returns the line to log.
import { initBackend } from '../backend/select';

export async function prepareBackend(preferred?: string): Promise<string> {
  return (await initBackend(preferred)).summary;
}

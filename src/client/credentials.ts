// Where the CLI and workers find their key: VIDFLEET_KEY="<id>:<secret>" (as `vidfleet keys
// create` prints it), or VIDFLEET_KEY_FILE naming a file that holds that line (mode 0600, so the
// secret stays out of process listings and shell history).
import { readFileSync } from 'node:fs';
import { parseCredentials, VidfleetError, type Credentials } from '../protocol/index.js';

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | null {
  if (env.VIDFLEET_KEY) return parseCredentials(env.VIDFLEET_KEY.trim());
  if (env.VIDFLEET_KEY_FILE) {
    let text: string;
    try {
      text = readFileSync(env.VIDFLEET_KEY_FILE, 'utf8');
    } catch (err) {
      throw new VidfleetError('VALIDATION_FAILED', `VIDFLEET_KEY_FILE ${env.VIDFLEET_KEY_FILE} cannot be read: ${(err as Error).message}`);
    }
    return parseCredentials(text.trim());
  }
  return null;
}

// Retries a call to the coordinator while it is unreachable (restarting, network blip), so a
// finished task's result is not thrown away for a moment's outage. Other errors pass through.
import { isNetworkError } from '../client/http.js';

export async function retryWhileUnreachable<T>(call: () => Promise<T>, options: { forMs: number; signal?: AbortSignal }): Promise<T> {
  const deadline = Date.now() + options.forMs;
  let delay = 200;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isNetworkError(err) || Date.now() + delay > deadline || options.signal?.aborted) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}

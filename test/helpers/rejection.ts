// The VidfleetError a promise rejects with (failing the test when it resolves or throws something else).
import { expect } from 'vitest';
import { VidfleetError } from '../../src/protocol/index.js';

export async function rejection(p: Promise<unknown>): Promise<VidfleetError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VidfleetError);
  return err as VidfleetError;
}

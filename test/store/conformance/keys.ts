// Keys, request nonces and owners (issue 7): what the coordinator's signed-request checks and
// per-client scoping rest on.
import { describe, expect, it } from 'vitest';
import { CAPS, expectCode, iso, newJob, type Harness } from './harness.js';

export function keyTests(h: Harness): void {
  describe('keys, nonces, owners', () => {
    it('creates, reads, lists and revokes keys; counts the active ones', async () => {
      expect(await h.store.countActiveApiKeys()).toBe(0);
      const admin = await h.store.createApiKey({ id: 'key_admin1', role: 'admin', name: 'ops', secretSealed: 'sealed-1' });
      expect(admin).toEqual({ id: 'key_admin1', role: 'admin', name: 'ops', createdAt: iso(h.clock), revokedAt: null });
      await h.store.createApiKey({ id: 'key_client1', role: 'client', name: 'app', secretSealed: 'sealed-2' });
      expect(await h.store.getApiKey('key_client1')).toMatchObject({ role: 'client', secretSealed: 'sealed-2' });
      expect(await h.store.getApiKey('key_nope')).toBeNull();
      expect((await h.store.listApiKeys()).map((k) => k.id)).toEqual(['key_admin1', 'key_client1']);
      expect(await h.store.countActiveApiKeys()).toBe(2);
      h.clock += 5;
      expect(await h.store.revokeApiKey('key_client1')).toBe(true);
      h.clock += 5;
      expect(await h.store.revokeApiKey('key_client1')).toBe(true);
      expect((await h.store.getApiKey('key_client1'))?.revokedAt).toBe(iso(h.clock - 5));
      expect(await h.store.revokeApiKey('key_nope')).toBe(false);
      expect(await h.store.countActiveApiKeys()).toBe(1);
      await expectCode(h.store.createApiKey({ id: 'x', role: 'admin', name: 'n', secretSealed: 's' }), 'VALIDATION_FAILED');
      await expectCode(h.store.createApiKey({ id: 'key_bad_role', role: 'root' as 'admin', name: 'n', secretSealed: 's' }), 'VALIDATION_FAILED');
    });

    it('remembers a nonce per key until it expires: a second use is refused, another key may use it', async () => {
      expect(await h.store.rememberNonce('key_a', 'n1', h.clock + 60_000)).toBe(true);
      expect(await h.store.rememberNonce('key_a', 'n1', h.clock + 60_000)).toBe(false);
      expect(await h.store.rememberNonce('key_b', 'n1', h.clock + 60_000)).toBe(true);
      expect(await h.store.pruneNonces(100)).toBe(0);
      h.clock += 60_000;
      expect(await h.store.pruneNonces(100)).toBe(2);
      expect(await h.store.rememberNonce('key_a', 'n1', h.clock + 60_000)).toBe(true);
    });

    it('keeps the owner of jobs and workers, lists by owner and counts recent jobs per owner', async () => {
      const mine = await h.store.createJob({ ...newJob(), owner: 'key_alice' });
      await h.store.createJob({ ...newJob(), owner: 'key_bob' });
      const anonymous = await h.store.createJob(newJob());
      expect(mine.job.owner).toBe('key_alice');
      expect(anonymous.job.owner).toBeUndefined();
      expect((await h.store.getJob(mine.job.id))?.owner).toBe('key_alice');
      expect((await h.store.listJobs({ owner: 'key_alice', limit: 10 })).jobs.map((j) => j.id)).toEqual([mine.job.id]);
      expect(await h.store.countJobsSince('key_alice', h.clock)).toBe(1);
      expect(await h.store.countJobsSince('key_alice', h.clock + 1)).toBe(0);
      const w = await h.store.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS, owner: 'key_wk' });
      expect(w.owner).toBe('key_wk');
      expect((await h.store.getWorker(w.id))?.owner).toBe('key_wk');
    });
  });
}

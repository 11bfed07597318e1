// MQTT notifications against the real Mosquitto on 127.0.0.1:1883: a subscriber receives a
// job's lifecycle events in order on {prefix}/jobs/{id}, worker events on {prefix}/workers/{id};
// with two coordinators on one database exactly one publishes, and the other takes over when it
// stops, going on from where it left off.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/server.js';
import type { FeedEvent } from '../../src/protocol/index.js';
import { WorkerAgent } from '../../src/worker/agent.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';

const BROKER = 'mqtt://127.0.0.1:1883';
const noop = { kind: 'noop', input: 'none', params: {} };

let fleet: TestFleet | undefined;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  await fleet?.stop();
  fleet = undefined;
});

/** A subscriber on prefix/#, collecting every message as a feed event with its topic. */
async function subscribe(prefix: string): Promise<{ messages: { topic: string; event: FeedEvent }[]; client: MqttClient }> {
  const client = await mqtt.connectAsync(BROKER, { clientId: `vidfleet-test-sub-${randomBytes(4).toString('hex')}` });
  const messages: { topic: string; event: FeedEvent }[] = [];
  client.on('message', (topic, payload) => messages.push({ topic, event: JSON.parse(payload.toString('utf8')) as FeedEvent }));
  await client.subscribeAsync(`${prefix}/#`, { qos: 1 });
  cleanup.push(() => client.endAsync().then(() => undefined));
  return { messages, client };
}

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const prefixFor = (): string => `vidfleet-test-${randomBytes(4).toString('hex')}`;

describe('MQTT notifications', () => {
  it("a subscriber receives a job's lifecycle events in order, and worker events", async () => {
    const prefix = prefixFor();
    const sub = await subscribe(prefix);
    fleet = await startTestFleet({ coordinator: { mqttUrl: BROKER, mqttPrefix: prefix } });
    const worker = await fleet.addWorker();
    const jobs = await Promise.all([fleet.client.submitJob(noop), fleet.client.submitJob(noop)]);
    for (const j of jobs) await untilFinished(fleet.client, j.id);
    for (const j of jobs) {
      await until(`job.completed of ${j.id}`, () => sub.messages.some((m) => m.event.jobId === j.id && m.event.type === 'job.completed'));
      const mine = sub.messages.filter((m) => m.topic === `${prefix}/jobs/${j.id}`).map((m) => m.event);
      expect(mine.map((e) => e.type)).toEqual(['job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed']);
      const stored = (await fleet.client.listFeed({ jobId: j.id })).events;
      expect(mine).toEqual(stored);
    }
    await worker.stop();
    const workerId = (await fleet.client.listWorkers())[0]!.id;
    await until('worker.offline', () => sub.messages.some((m) => m.topic === `${prefix}/workers/${workerId}` && m.event.type === 'worker.offline'));
  });

  it('with two coordinators on one database one publishes; the other takes over where it stopped', async () => {
    const prefix = prefixFor();
    const sub = await subscribe(prefix);
    fleet = await startTestFleet({ coordinator: { mqttUrl: BROKER, mqttPrefix: prefix } });
    const second: RunningCoordinator = await startCoordinator({
      port: 0, dataDir: join(fleet.dir, 'data2'), db: fleet.coordinator.config.db, storeDir: fleet.coordinator.config.storeDir,
      logLevel: 'silent', mqttUrl: BROKER, mqttPrefix: prefix, shutdownGraceMs: 500,
    });
    let secondOpen = true;
    cleanup.push(async () => {
      if (secondOpen) await second.close();
    });
    const viaSecond = new VidfleetClient(second.url);
    cleanup.push(async () => viaSecond.close());
    const worker = new WorkerAgent({ coordinatorUrl: fleet.coordinator.url, concurrency: 2, workDir: join(fleet.dir, 'w'), claimWaitSeconds: 1, mounts: new Map(), allowProtocols: [] }, () => {});
    await worker.start();
    cleanup.push(() => worker.stop());
    const before = await Promise.all([fleet.client.submitJob(noop), viaSecond.submitJob(noop), fleet.client.submitJob(noop)]);
    for (const j of before) await untilFinished(fleet.client, j.id);
    await until('the first jobs published', () => before.every((j) => sub.messages.some((m) => m.event.jobId === j.id && m.event.type === 'job.completed')));
    // Whichever publishes stops; the other takes over (released at once on a clean stop).
    await second.close();
    secondOpen = false;
    const after = await Promise.all([fleet.client.submitJob(noop), fleet.client.submitJob(noop)]);
    for (const j of after) await untilFinished(fleet.client, j.id);
    await until('the later jobs published', () => after.every((j) => sub.messages.some((m) => m.event.jobId === j.id && m.event.type === 'job.completed')));
    const all = [...before, ...after];
    const published = sub.messages.filter((m) => m.event.jobId !== null && all.some((j) => j.id === m.event.jobId)).map((m) => m.event.cursor);
    // Every event of these jobs exactly once, in feed order.
    const stored = (await Promise.all(all.map((j) => fleet!.client.listFeed({ jobId: j.id })))).flatMap((p) => p.events.map((e) => e.cursor));
    expect(new Set(published).size).toBe(published.length);
    expect([...published].sort((a, b) => Number(a) - Number(b))).toEqual([...stored].sort((a, b) => Number(a) - Number(b)));
    expect(published).toEqual([...published].sort((a, b) => Number(a) - Number(b)));
  });

  it('refuses a malformed broker URL or prefix at start, with a clear message', async () => {
    await expect(startCoordinator({ port: 0, dataDir: join('/tmp', `vf-${randomBytes(3).toString('hex')}`), mqttUrl: 'localhost:1883' })).rejects.toThrow(/mqttUrl must look like mqtt:\/\/host:1883/);
    await expect(startCoordinator({ port: 0, dataDir: join('/tmp', `vf-${randomBytes(3).toString('hex')}`), mqttPrefix: 'a/#' })).rejects.toThrow(/mqttPrefix must be a topic prefix/);
  });
});

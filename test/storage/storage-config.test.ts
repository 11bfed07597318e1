// The storage settings are checked once, at start, with messages that say what to write instead.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCoordinatorConfig } from '../../src/coordinator/config.js';
import { parseS3Url } from '../../src/storage/s3-location.js';

describe('parseS3Url', () => {
  it('splits bucket and prefix', () => {
    expect(parseS3Url('s3://media')).toEqual({ bucket: 'media', prefix: '' });
    expect(parseS3Url('s3://media/')).toEqual({ bucket: 'media', prefix: '' });
    expect(parseS3Url('s3://my.media-1/vidfleet/prod/')).toEqual({ bucket: 'my.media-1', prefix: 'vidfleet/prod' });
  });

  it('says what is wrong', () => {
    expect(() => parseS3Url('s3://')).toThrow(/names no bucket/);
    expect(() => parseS3Url('s3:///prefix')).toThrow(/names no bucket/);
    expect(() => parseS3Url('s3:/media')).toThrow(/is not an S3 URL; write s3:\/\/bucket/);
    expect(() => parseS3Url('s3://media?x=1')).toThrow(/no query or fragment/);
    expect(() => parseS3Url('s3://Media_Files')).toThrow(/not a valid bucket name/);
    expect(() => parseS3Url('s3://media/a//b')).toThrow(/empty, "\." or "\.\." segment/);
    expect(() => parseS3Url('s3://media/a/../b')).toThrow(/segment/);
  });
});

describe('coordinator storage configuration', () => {
  it('defaults to the store directory under the data directory', () => {
    const config = parseCoordinatorConfig({ dataDir: '/tmp/vf' });
    expect(config.storage).toBe(join('/tmp/vf', 'store'));
    expect(config.storeDir).toBe(config.storage);
    expect(config.s3DirectDownloads).toBe(false);
  });

  it('takes a relative directory, or an s3:// URL as written', () => {
    expect(parseCoordinatorConfig({ storage: 'blobs' }).storeDir).toBe(resolve('blobs'));
    const s3 = parseCoordinatorConfig({ storage: 's3://media/vf', s3Endpoint: 'http://127.0.0.1:4569' });
    expect(s3).toMatchObject({ storage: 's3://media/vf', s3Endpoint: 'http://127.0.0.1:4569', s3Region: 'us-east-1' });
  });

  it('refuses bad storage settings with clear messages', () => {
    expect(() => parseCoordinatorConfig({ storage: 's3://' })).toThrow(/Invalid coordinator configuration: storage: "s3:\/\/" names no bucket/);
    expect(() => parseCoordinatorConfig({ storage: 's3:/media' })).toThrow(/storage: "s3:\/media" is not an S3 URL/);
    expect(() => parseCoordinatorConfig({ storage: 'gs://media' })).toThrow(/storage must be a directory or s3:\/\/bucket\/prefix, got "gs:\/\/media"/);
    expect(() => parseCoordinatorConfig({ storage: 's3://media', s3Endpoint: 'localhost:9000' })).toThrow(/s3Endpoint must be an http\(s\):\/\/host:port URL/);
    expect(() => parseCoordinatorConfig({ storage: 's3://media', s3AccessKeyId: 'k' })).toThrow(/give both or neither/);
    expect(() => parseCoordinatorConfig({ s3DirectDownloads: true })).toThrow(/s3DirectDownloads needs storage on S3/);
    expect(() => parseCoordinatorConfig({ storage: 's3://media', s3PresignTtlSeconds: 8 * 24 * 3600 })).toThrow(/s3PresignTtlSeconds must be a whole number from 60 to 604800/);
  });
});

// The `vidfleet` command.
import { VidfleetClient } from '../client/api-client.js';
import { credentialsFromEnv } from '../client/credentials.js';
import { keysCommand } from './commands/keys.js';
import { parseCommandArgs } from './args.js';
import { demoCommand } from './commands/demo.js';
import { cancelCommand, getCommand, jobsCommand, statusCommand, submitCommand, watchCommand } from './commands/jobs.js';
import { logsCommand } from './commands/logs.js';
import { coordinatorCommand, upCommand, workerCommand } from './commands/servers.js';
import { println, reportError, UsageError } from './output.js';

const USAGE = `vidfleet — distributed video processing

Usage:
  vidfleet up [--port 8000] [--data DIR] [--db URL] [--storage DIR|s3://bucket/prefix] [--workers N] [--concurrency N]
                                   coordinator + N local workers (SQLite + files under DIR, default ./.vidfleet)
  vidfleet demo [FILE] [-o DIR]    bring everything up, probe + thumbnail FILE (or a generated sample), save, stop
  vidfleet coordinator [--port 8000] [--host 127.0.0.1] [--data DIR] [--db postgres://…] [--mqtt mqtt://…] [--lease-ms N]
                     [--max-upload BYTES] [--retention-days 7]
                     [--storage DIR|s3://bucket/prefix] [--s3-endpoint URL] [--s3-region R] [--s3-direct-downloads]
  vidfleet worker [--coordinator URL] [--concurrency N] [--name NAME] [--kinds probe,thumbnail] [--tag gpu]… [--drain-timeout 300]
                  [--mount NAME=/dir[:rw]]… [--allow-protocol http,https]
                                   mounts are the $NAME/… paths of ffmpeg jobs (read-only unless :rw)
  vidfleet submit <kind> <input> [--param key=value]… [--require tag:gpu]… [--priority N] [--idempotency-key K] [--wait] [--json]
                                   input: a local file (uploaded), store://key, file:///path, http(s)://url,
                                   or - for none (noop, ffmpeg jobs that do not read $input)
  vidfleet status <job> [--json]
  vidfleet jobs [--status S] [--kind K] [--limit N] [--json]
  vidfleet watch <job> [--json]    progress bar until the job ends; exit 0 on success, 1 on failure
  vidfleet logs <job> [-f] [--task T]  the job's task logs (ffmpeg's stderr); -f follows until the job ends
  vidfleet get <job> [-o DIR]      download the job's artifacts (default ./<job>)
  vidfleet cancel <job> [--json]   cancel a job; running tasks are stopped by their workers

The database comes from --db or VIDFLEET_DB (a SQLite path or a postgres:// URL; default DIR/vidfleet.db); on PostgreSQL
the tables live in schema --db-schema or VIDFLEET_DB_SCHEMA (default vidfleet).
Events are published to MQTT with --mqtt mqtt://host:1883 or VIDFLEET_MQTT (topics PREFIX/jobs/{id}, PREFIX/workers/{id}; --mqtt-prefix, default vidfleet).
Files go to --storage or VIDFLEET_STORAGE (a directory or s3://bucket/prefix; default DIR/store); for S3,
--s3-endpoint or VIDFLEET_S3_ENDPOINT names a MinIO/s3rver server, credentials come from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (or ~/.aws), and --s3-direct-downloads (VIDFLEET_S3_DIRECT_DOWNLOADS=1) sends clients
to presigned URLs. See docs/storage.md.

Requests are signed with the key in VIDFLEET_KEY ("<id>:<secret>") or the file VIDFLEET_KEY_FILE, once the
deployment has keys (vidfleet keys create --role admin|client|worker [--name N] [--data DIR] [--db URL]; keys list; keys revoke ID).
The coordinator URL comes from --coordinator or VIDFLEET_URL (default http://127.0.0.1:8000); several coordinators on one PostgreSQL
may be given comma-separated: requests move on to the next when one cannot be reached.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    println('vidfleet 0.1.0');
    return 0;
  }
  const args = parseCommandArgs(command, rest);
  if (args.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const url = (args.values.coordinator as string | undefined) ?? process.env.VIDFLEET_URL ?? 'http://127.0.0.1:8000';
  const client = new VidfleetClient(url, { credentials: credentialsFromEnv() });
  switch (command) {
    case 'up': return upCommand(args);
    case 'demo': return demoCommand(args);
    case 'coordinator': return coordinatorCommand(args);
    case 'worker': return workerCommand(args, url);
    case 'submit': return submitCommand(args, client);
    case 'status': return statusCommand(args, client);
    case 'jobs': return jobsCommand(args, client);
    case 'get': return getCommand(args, client);
    case 'watch': return watchCommand(args, client);
    case 'logs': return logsCommand(args, client);
    case 'cancel': return cancelCommand(args, client);
    case 'keys': return keysCommand(args);
    default: throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(reportError(err)),
);

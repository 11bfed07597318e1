// vidfleet keys: create, list and revoke the keys requests are signed with. Run where the
// coordinator's database and master key are (same --data, --db, VIDFLEET_MASTER_KEY): it works
// on the database directly, so the first admin key can be made before anyone can sign.
import { join, resolve } from 'node:path';
import { KEY_ROLES, type KeyRole } from '../../protocol/index.js';
import { createKey } from '../../coordinator/auth/keys.js';
import { loadMasterKey } from '../../coordinator/auth/master-key.js';
import { parseCoordinatorConfig } from '../../coordinator/config.js';
import { openStore } from '../../coordinator/open-store.js';
import { println, UsageError } from '../output.js';
import type { Parsed } from '../args.js';

export async function keysCommand(args: Parsed): Promise<number> {
  const [action, id] = args.positionals;
  const dataDir = resolve((args.values.data as string | undefined) ?? '.vidfleet');
  const config = parseCoordinatorConfig({
    dataDir,
    db: (args.values.db as string | undefined) ?? (process.env.VIDFLEET_DB || undefined),
    dbSchema: (args.values['db-schema'] as string | undefined) ?? (process.env.VIDFLEET_DB_SCHEMA || undefined),
  });
  const store = await openStore(config);
  try {
    switch (action) {
      case 'create': {
        const role = args.values.role as string | undefined;
        if (!role || !(KEY_ROLES as readonly string[]).includes(role)) throw new UsageError(`keys create needs --role ${KEY_ROLES.join('|')}`);
        const masterKey = await loadMasterKey(join(dataDir, 'master.key'), process.env.VIDFLEET_MASTER_KEY || undefined);
        const { key, secret } = await createKey(store, masterKey, role as KeyRole, (args.values.name as string | undefined) ?? role);
        if (args.values.json) println(JSON.stringify({ ...key, secret }));
        else {
          println(`created ${key.role} key ${key.id} (${key.name}); the secret is shown only now:`);
          println(`VIDFLEET_KEY=${key.id}:${secret}`);
        }
        return 0;
      }
      case 'list': {
        const keys = await store.listApiKeys();
        if (args.values.json) println(JSON.stringify(keys));
        else for (const k of keys) println(`${k.id}  ${k.role.padEnd(6)}  ${k.name}  created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}`);
        return 0;
      }
      case 'revoke': {
        if (!id) throw new UsageError('keys revoke needs the key id');
        if (!(await store.revokeApiKey(id))) throw new UsageError(`no key ${id}`);
        println(`revoked ${id} (coordinators refuse it within 2 s)`);
        return 0;
      }
      default:
        throw new UsageError('keys: create --role admin|client|worker [--name N] | list | revoke ID');
    }
  } finally {
    await store.close();
  }
}

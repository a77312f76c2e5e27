// The key vault, for the services that write or read personal data (docs/privacy.md): a pool
// on the vault's database as the service's own role, its data keys' table migrated at start by
// the owner (PG_MIGRATION_USER, who grants the service's role what a key store needs), and the
// Shredder that seals and opens personal fields through a key cache. The event store takes it
// (EventSourcingModule), the order and payment services open what they answer with it, and the
// payment service erases a customer's keys through it. The projection service has none: read
// models keep personal fields sealed.
import { Inject, Injectable, Logger, type OnModuleInit, type Provider } from '@nestjs/common';
import { Pool } from 'pg';
import {
  CachedKeyStore,
  PostgresKeyStore,
  Shredder,
  masterKey,
  migrateKeyStore,
} from '@es/privacy';
import {
  postgresConfig,
  postgresMigrationConfig,
  privacyConfig,
  type PrivacyConfig,
} from '@es/runtime-config';
import { createPostgresPool } from './infrastructure';
import type { ReadinessCheck } from './readiness';

/** The service's key vault, or null in a service that handles no personal data. */
export const PERSONAL_DATA = Symbol('PERSONAL_DATA');

export class PersonalData {
  readonly keys: CachedKeyStore;
  readonly shredder: Shredder;

  constructor(
    readonly serviceName: string,
    readonly pool: Pool,
    private readonly config: PrivacyConfig,
  ) {
    const { masterKeys, keyCacheMs } = config;
    this.keys = new CachedKeyStore(
      new PostgresKeyStore(pool, masterKeys.map(masterKey)),
      keyCacheMs,
    );
    this.shredder = new Shredder(this.keys);
  }

  static fromConfig(serviceName: string): PersonalData {
    const config = privacyConfig();
    const pool = createPostgresPool(config.vaultDatabase, `${serviceName}-vault`, {
      max: 5,
      ...PersonalData.address(config),
    });
    return new PersonalData(serviceName, pool, config);
  }

  get vaultDatabase(): string {
    return this.config.vaultDatabase;
  }

  /** Where the vault is when not on PGHOST:PGPORT. */
  private static address({ vaultHost, vaultPort }: PrivacyConfig) {
    return { ...(vaultHost ? { host: vaultHost } : {}), ...(vaultPort ? { port: vaultPort } : {}) };
  }

  /**
   * The data keys' table, made or checked by the vault's owner when PG_MIGRATION_USER names
   * one (who grants this service's role make, read and erase, never delete), else by the
   * service's own role.
   */
  async migrate(): Promise<void> {
    const owner = postgresMigrationConfig(this.vaultDatabase);
    if (owner === undefined) {
      await migrateKeyStore(this.pool);
      return;
    }
    const pool = new Pool({
      ...owner,
      ...PersonalData.address(this.config),
      max: 1,
      application_name: `${this.serviceName}-migrate`,
    });
    pool.on('error', () => undefined);
    try {
      await migrateKeyStore(pool, { grantTo: [postgresConfig(this.vaultDatabase).user] });
    } finally {
      await pool.end();
    }
  }

  readiness(): ReadinessCheck {
    return {
      name: 'vault',
      check: async () => {
        await this.pool.query('SELECT 1 FROM data_keys LIMIT 0');
      },
    };
  }
}

@Injectable()
class PersonalDataLifecycle implements OnModuleInit {
  private readonly logger = new Logger('personal-data');
  constructor(@Inject(PERSONAL_DATA) private readonly vault: PersonalData | null) {}

  async onModuleInit(): Promise<void> {
    if (!this.vault) return;
    await this.vault.migrate();
    this.logger.log(`key vault ready (database ${this.vault.vaultDatabase})`);
  }
}

export function personalDataProviders(serviceName: string, enabled: boolean): Provider[] {
  return [
    {
      provide: PERSONAL_DATA,
      useFactory: () => (enabled ? PersonalData.fromConfig(serviceName) : null),
    },
    PersonalDataLifecycle,
  ];
}

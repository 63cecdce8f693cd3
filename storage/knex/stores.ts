// keyval and map stores: one JSON text value per (store, host, user[, key]).
import type { Knex } from 'knex';
import type { KeyValueStore, MapStore } from '../api/index.js';
import { decodeValue, encodeValue } from './codec.js';

/** Users per query of getMany: well under SQLite's limit on bound parameters (999 before 3.32). */
const GET_MANY_CHUNK = 500;

export function knexKeyValueStore<T>(db: Knex, store: string): KeyValueStore<T> {
  return {
    async get(host, user) {
      const row = (await db('keyval').select('value').where({ store, host, username: user }).first()) as
        | { value: string }
        | undefined;
      return row ? decodeValue<T>(row.value) : null;
    },

    async getMany(host, users) {
      const out = new Map<string, T>();
      for (let i = 0; i < users.length; i += GET_MANY_CHUNK) {
        const rows = (await db('keyval')
          .select('username', 'value')
          .where({ store, host })
          .whereIn('username', users.slice(i, i + GET_MANY_CHUNK))) as { username: string; value: string }[];
        for (const r of rows) out.set(r.username, decodeValue<T>(r.value));
      }
      return out;
    },

    async set(host, user, value) {
      if (value === null) {
        await db('keyval').where({ store, host, username: user }).del();
        return;
      }
      // Upsert in one statement so concurrent writers cannot both miss the row and collide on insert.
      await db('keyval')
        .insert({ store, host, username: user, value: encodeValue(value) })
        .onConflict(['store', 'host', 'username'])
        .merge(['value']);
    },
  };
}

export function knexMapStore<T>(db: Knex, store: string): MapStore<T> {
  return {
    async get(host, user, key) {
      const row = (await db('map').select('value').where({ store, host, username: user, key }).first()) as
        | { value: string }
        | undefined;
      return row ? decodeValue<T>(row.value) : null;
    },

    async set(host, user, key, value) {
      if (value === null) {
        await db('map').where({ store, host, username: user, key }).del();
        return;
      }
      await db('map')
        .insert({ store, host, username: user, key, value: encodeValue(value) })
        .onConflict(['store', 'host', 'username', 'key'])
        .merge(['value']);
    },

    async getAll(host, user) {
      const rows = (await db('map').select('key', 'value').where({ store, host, username: user })) as {
        key: string;
        value: string;
      }[];
      const out = new Map<string, T>();
      for (const r of rows) out.set(r.key, decodeValue<T>(r.value));
      return out;
    },

    async clear(host, user) {
      await db('map').where({ store, host, username: user }).del();
    },
  };
}

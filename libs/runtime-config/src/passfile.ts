// PostgreSQL's password file (https://www.postgresql.org/docs/current/libpq-pgpass.html), read
// as libpq reads it: `host:port:database:user:password` per line, `*` matching anything in the
// first four fields, `\:` and `\\` escaped, the first matching line winning. The file must not
// be readable by group or others (libpq ignores such a file; here it is an error, which says
// so). Passwords come from here or the environment, never from a process's arguments.
import { readFileSync, statSync } from 'node:fs';

export interface PassfileKey {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** The fields of one line, unescaped; undefined for a comment, a blank or a short line. */
function fields(line: string): string[] | undefined {
  if (line.trim() === '' || line.startsWith('#')) return undefined;
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (c === '\\' && i + 1 < line.length) current += line.charAt(++i);
    else if (c === ':' && out.length < 4) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out.length === 5 ? out : undefined;
}

export function passwordIn(text: string, key: PassfileKey): string | undefined {
  const wanted = [key.host, String(key.port), key.database, key.user];
  for (const line of text.split(/\r?\n/)) {
    const f = fields(line);
    if (f?.slice(0, 4).every((field, i) => field === '*' || field === wanted[i])) return f[4];
  }
  return undefined;
}

/** A secrets file's text; throws when it is missing or others may read it. */
function readPrivate(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    throw new Error(`cannot read ${file} (${(error as { code?: string }).code ?? String(error)})`);
  }
  if ((mode & 0o077) !== 0)
    throw new Error(
      `${file} may be read by group or others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`,
    );
  return readFileSync(file, 'utf8');
}

/** The password for `key` in the PostgreSQL passfile `file`. */
export function passwordFromPassfile(file: string, key: PassfileKey): string | undefined {
  return passwordIn(readPrivate(file), key);
}

/** The master keys in `file`, base64 one a line, the current one first (comments with #). */
export function masterKeysFromFile(file: string): string | undefined {
  const keys = readPrivate(file)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return keys.length === 0 ? undefined : keys.join(',');
}

/**
 * The password of a Kafka principal in `file`, `user:password` per line (the local stack's
 * .local/stack/kafka/credentials, infra/local/kafka.sh).
 */
export function kafkaPasswordFromFile(file: string, user: string): string | undefined {
  for (const line of readPrivate(file).split(/\r?\n/))
    if (line.startsWith(`${user}:`)) return line.slice(user.length + 1);
  return undefined;
}

// YAML configuration loader: parse → ${ENV} interpolation → defaults → schema and cross-field checks.
// Every problem is collected and reported at once with its YAML path and line, so an operator fixes the whole
// file in one pass (DESIGN §1: refuse to start and name the path, never clamp-and-log).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KindGuard, type TSchema, type TUnion } from '@sinclair/typebox';
import { Value, type ValueError, ValueErrorType } from '@sinclair/typebox/value';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { SwitchboardError } from '../errors/index.js';
import { checkGateways } from './gateways-schema.js';
import { checkS2s } from './s2s-schema.js';
import {
  type Config,
  ConfigSchema,
  checkComponents,
  checkHosts,
  checkListeners,
  checkTls,
  DISCRIMINATOR,
  hostnameProblem,
  type ModuleSchemas,
  suggest,
} from './schema.js';

export interface ConfigProblem {
  /** YAML path such as `hosts.localhost.tls.cert` or `listeners[1].port`; empty for syntax errors. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** SB_ERR_CONFIG_INVALID carrying every problem found, for callers (and tests) that want them one by one. */
export class ConfigError extends SwitchboardError {
  readonly problems: readonly ConfigProblem[];
  constructor(source: string, problems: ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${formatProblem(p)}`).join('\n');
    super('SB_ERR_CONFIG_INVALID', `invalid configuration in ${source}:\n${lines}`);
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  file?: string;
  /** YAML text; wins over reading `file` (which then only names the source in messages). */
  text?: string;
  /** Variables for ${VAR} interpolation; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Option schemas of every known module. Module names not listed here are refused. */
  moduleSchemas?: ModuleSchemas;
}

type Seg = string | number;
type Obj = Record<string, unknown>;

export function loadConfig(opts: LoadConfigOptions): Config {
  if (opts.text === undefined && opts.file === undefined) {
    throw new SwitchboardError('SB_ERR_USAGE', 'loadConfig needs a file or a text');
  }
  const source = opts.file ?? '<text>';
  const text = opts.text ?? readConfigFile(opts.file as string);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Later syntax errors are mostly fallout from the first; three are enough to find the spot.
    const problems = doc.errors.slice(0, 3).map((e) => ({
      path: '',
      message: `YAML syntax error: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
      ...(e.linePos ? { line: e.linePos[0].line, column: e.linePos[0].col } : {}),
    }));
    throw new ConfigError(source, problems);
  }
  let raw: unknown;
  try {
    // The alias cap stops "billion laughs" expansion of anchors.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, [{ path: '', message: `YAML error: ${(err as Error).message}` }]);
  }
  const locate = (path: Seg[]): number | undefined => {
    for (let i = path.length; i > 0; i--) {
      const node = doc.getIn(path.slice(0, i), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return resolveConfig(raw, { source, env: opts.env ?? process.env, modules: opts.moduleSchemas ?? {}, locate });
}

/** The configuration of a single `localhost` host with every default applied. */
export function defaultConfig(): Config {
  return resolveConfig(
    { hosts: { localhost: {} } },
    { source: 'defaults', env: {}, modules: {}, locate: () => undefined },
  );
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SwitchboardError('SB_ERR_CONFIG_NOT_FOUND', `configuration file not found: ${file}`, { cause: err });
    }
    throw new SwitchboardError('SB_ERR_CONFIG_INVALID', `cannot read ${file}: ${code ?? String(err)}`, { cause: err });
  }
}

interface ResolveContext {
  source: string;
  env: NodeJS.ProcessEnv;
  modules: ModuleSchemas;
  locate: (path: Seg[]) => number | undefined;
}

function resolveConfig(raw: unknown, ctx: ResolveContext): Config {
  const problems = new Problems(ctx.locate);
  const coercible = new Set<string>();
  const value = interpolate(raw ?? {}, [], { env: ctx.env, p: problems, coercible });
  if (!isObj(value)) {
    problems.add([], `the configuration must be a mapping (got ${kindOf(value)})`);
    throw new ConfigError(ctx.source, problems.list);
  }
  fillStorageDefault(value);
  const config = applyDefaults(ConfigSchema, value, [], coercible) as Obj;
  collect(ConfigSchema, config, [], problems);
  checkHosts(config, ctx.modules, problems);
  checkListeners(config, problems);
  checkTls(config, problems);
  checkS2s(config, problems);
  checkComponents(config, problems);
  checkGateways(config, problems, hostnameProblem);
  config.modules = resolveModules(config.modules, ctx.modules, problems, coercible);
  if (problems.list.length > 0) throw new ConfigError(ctx.source, problems.sorted());
  return config as Config;
}

// ---- ${VAR} and ${VAR:-default} in string scalars; `$${` writes a literal `${`.

const REFERENCE = /(\$?)\$\{([^}]*)\}/g;
const REFERENCE_BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

interface Interpolation {
  env: NodeJS.ProcessEnv;
  p: Problems;
  /** Paths (JSON-encoded) of scalars that were exactly one reference. */
  coercible: Set<string>;
}

function interpolate(value: unknown, path: Seg[], ctx: Interpolation): unknown {
  if (typeof value === 'string') return expand(value, path, ctx);
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], ctx));
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    // defineProperty, not assignment: a "__proto__" key must stay a plain (and then refused) key, not a prototype.
    Object.defineProperty(out, k, {
      value: interpolate(v, [...path, k], ctx),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function expand(s: string, path: Seg[], { env, p, coercible }: Interpolation): string {
  if (!s.includes('${')) return s;
  if (s.replace(REFERENCE, '').includes('${')) p.add(path, 'has an unterminated "${" (write "$${" for a literal)');
  // A scalar that is exactly one reference may stand for a number or boolean (`port: ${PORT:-5222}`).
  if (/^\$\{[^}]*\}$/.test(s)) coercible.add(JSON.stringify(path));
  return s.replace(REFERENCE, (match, escaped: string, body: string) => {
    if (escaped) return match.slice(1);
    const ref = REFERENCE_BODY.exec(body);
    if (!ref) {
      p.add(path, `malformed reference "\${${body}}" (expected \${NAME} or \${NAME:-default})`);
      p.silence(path);
      return '';
    }
    const name = ref[1] as string;
    const fallback = ref[2];
    const set = env[name];
    // Shell semantics: ":-" also replaces a variable that is set but empty.
    if (fallback !== undefined) return set ? set : fallback;
    if (set !== undefined) return set;
    p.add(path, `environment variable ${name} is not set`);
    p.silence(path);
    return '';
  });
}

// ---- defaults

/** sqlite's default file lives in data_dir, so it cannot be a static schema default. */
function fillStorageDefault(value: Obj): void {
  const dataDir = typeof value.data_dir === 'string' ? value.data_dir : 'data';
  if (value.storage === undefined) value.storage = { driver: 'sqlite' };
  const storage = value.storage;
  if (isObj(storage) && storage.driver === 'sqlite' && storage.path === undefined) {
    storage.path = join(dataDir, 'switchboard.sqlite');
  }
}

/**
 * Fills schema defaults where a value is absent. Value.Default fills whole missing subtrees; we walk present
 * values ourselves because Value.Default merges an object default into any object-like value, so a list written
 * where a mapping belongs would be silently replaced instead of reported.
 */
function applyDefaults(schema: TSchema, value: unknown, path: Seg[], coercible: Set<string>): unknown {
  if (value === undefined) return Value.Default(schema, undefined);
  if (typeof value === 'string' && coercible.has(JSON.stringify(path))) return coerce(schema, value);
  if (KindGuard.IsObject(schema) && isObj(value)) {
    for (const [key, prop] of Object.entries(schema.properties)) {
      const next = applyDefaults(prop, value[key], [...path, key], coercible);
      if (next !== undefined) value[key] = next;
    }
  } else if (KindGuard.IsRecord(schema) && isObj(value)) {
    const item = Object.values(schema.patternProperties)[0] as TSchema;
    for (const [key, v] of Object.entries(value)) {
      // `localhost:` with nothing after it is the natural YAML for "a host with no settings".
      const given = v === null && KindGuard.IsObject(item) ? {} : v;
      value[key] = applyDefaults(item, given, [...path, key], coercible);
    }
  } else if (KindGuard.IsArray(schema) && Array.isArray(value)) {
    value.forEach((v, i) => {
      value[i] = applyDefaults(schema.items, v, [...path, i], coercible);
    });
  } else if (KindGuard.IsUnion(schema) && isObj(value)) {
    const variant = pickVariant(schema, value);
    if (variant) return applyDefaults(variant, value, path, coercible);
  }
  return value;
}

function coerce(schema: TSchema, s: string): unknown {
  if ((KindGuard.IsInteger(schema) || KindGuard.IsNumber(schema)) && /^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (KindGuard.IsBoolean(schema) && (s === 'true' || s === 'false')) return s === 'true';
  return s;
}

function pickVariant(union: TUnion, value: Obj): TSchema | undefined {
  const field = union[DISCRIMINATOR];
  if (typeof field !== 'string') return undefined;
  return union.anyOf.find((v) => KindGuard.IsObject(v) && v.properties[field]?.const === value[field]);
}

// ---- schema errors → problems

function collect(schema: TSchema, value: unknown, base: Seg[], p: Problems): void {
  for (const e of Value.Errors(schema, value)) {
    const path = [...base, ...pointerToPath(e.path, value)];
    if (e.type === ValueErrorType.Union && typeof e.schema[DISCRIMINATOR] === 'string') {
      discriminatedErrors(e.schema as TUnion, e.value, path, p);
    } else if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      const key = path[path.length - 1] as string;
      const hint = suggest(key, Object.keys((e.schema as { properties?: Obj }).properties ?? {}));
      p.add(path.slice(0, -1), `unknown key "${key}"${hint}`, path);
    } else {
      p.add(path, describe(e));
    }
  }
}

function discriminatedErrors(union: TUnion, value: unknown, path: Seg[], p: Problems): void {
  const variant = isObj(value) ? pickVariant(union, value) : undefined;
  if (!isObj(value)) p.add(path, `must be a mapping (got ${kindOf(value)})`);
  else if (variant) collect(variant, value, path, p);
  else discriminatorError(union, value, path, p);
}

function discriminatorError(union: TUnion, value: Obj, path: Seg[], p: Problems): void {
  const field = union[DISCRIMINATOR] as string;
  const allowed = union.anyOf.map((v) => (KindGuard.IsObject(v) ? v.properties[field]?.const : undefined));
  const given = value[field];
  p.add([...path, field], given === undefined ? 'is required' : `must be one of: ${allowed.join(', ')}`);
}

const T = ValueErrorType;
/** Wording for the basic type errors; the value's kind is appended. */
const EXPECTED: Partial<Record<ValueErrorType, string>> = {
  [T.Integer]: 'integer',
  [T.Number]: 'a number',
  [T.String]: 'string',
  [T.Boolean]: 'boolean (true or false)',
  [T.Object]: 'a mapping',
  [T.Array]: 'a list',
};
/** Wording for constraint errors, from the failing schema. */
const CONSTRAINTS: Partial<Record<ValueErrorType, (s: Obj) => string>> = {
  [T.IntegerMinimum]: (s) => `must be >= ${s.minimum}`,
  [T.NumberMinimum]: (s) => `must be >= ${s.minimum}`,
  [T.IntegerMaximum]: (s) => `must be <= ${s.maximum}`,
  [T.NumberMaximum]: (s) => `must be <= ${s.maximum}`,
  [T.StringMinLength]: () => 'must not be empty',
  [T.ArrayMinItems]: (s) => `must have at least ${s.minItems} item(s)`,
  [T.ArrayUniqueItems]: () => 'must not list the same value twice',
  [T.ObjectMinProperties]: (s) => `must have at least ${s.minProperties} entr${s.minProperties === 1 ? 'y' : 'ies'}`,
  [T.Literal]: (s) => `must be ${JSON.stringify(s.const)}`,
  [T.Union]: (s) => {
    const variants = (s.anyOf ?? []) as TSchema[];
    if (!variants.every((v) => KindGuard.IsLiteral(v))) return 'does not match any allowed form';
    return `must be one of: ${variants.map((v) => (v as { const: unknown }).const).join(', ')}`;
  },
};

function describe(e: ValueError): string {
  if (e.value === undefined) return 'is required';
  const expected = EXPECTED[e.type];
  if (expected) return `must be ${expected} (got ${kindOf(e.value)})`;
  return CONSTRAINTS[e.type]?.(e.schema as Obj) ?? e.message;
}

function pointerToPath(pointer: string, root: unknown): Seg[] {
  if (pointer === '') return [];
  const out: Seg[] = [];
  let node = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out.push(Number(key));
      node = node[Number(key)];
    } else {
      out.push(key);
      node = isObj(node) ? node[key] : undefined;
    }
  }
  return out;
}

/** Validates the options of named modules and fills defaults for all known modules. */
function resolveModules(given: unknown, schemas: ModuleSchemas, p: Problems, coercible: Set<string>): Obj {
  const options = isObj(given) ? given : {};
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(schemas, name))
      p.add(['modules', name], `unknown module "${name}"${suggest(name, Object.keys(schemas))}`);
  }
  const out: Obj = {};
  for (const [name, schema] of Object.entries(schemas)) {
    const path = ['modules', name];
    const value = applyDefaults(schema, options[name] ?? {}, path, coercible);
    if (Object.hasOwn(options, name)) {
      collect(schema, value, path, p);
      out[name] = value;
    } else if (Value.Check(schema, value)) {
      // Modules that need options nobody gave are left out; the module manager refuses to load them.
      out[name] = value;
    }
  }
  return out;
}

// ---- helpers

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Names the kind of a value without echoing it: values may come from secrets in the environment. */
function kindOf(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

export function formatPath(path: readonly Seg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function formatProblem(p: ConfigProblem): string {
  const where =
    p.line === undefined ? '' : p.column === undefined ? ` (line ${p.line})` : ` (line ${p.line}, column ${p.column})`;
  return `${p.path ? `${p.path}: ` : ''}${p.message}${where}`;
}

class Problems {
  readonly list: ConfigProblem[] = [];
  private readonly seen = new Set<string>();
  /** Paths whose value is already known to be broken (a failed ${VAR}); further complaints would be noise. */
  private readonly silenced = new Set<string>();
  constructor(private readonly locate: (path: Seg[]) => number | undefined) {}

  /** `at` is where to look for the line when it differs from the reported path (an unknown key). */
  add(path: Seg[], message: string, at: Seg[] = path): void {
    const where = formatPath(path);
    const key = `${where}\n${message}`;
    if (this.seen.has(key) || this.silenced.has(where)) return;
    this.seen.add(key);
    const line = this.locate(at);
    this.list.push({ path: where, message, ...(line === undefined ? {} : { line }) });
  }

  silence(path: Seg[]): void {
    this.silenced.add(formatPath(path));
  }

  /** In file order, so the report reads top to bottom like the file. */
  sorted(): ConfigProblem[] {
    return [...this.list].sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  }
}

// Validates a job's kind, params and input at submission, so a bad job is a 400 naming the
// field instead of a task that fails later on a worker.
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { TObject } from '@sinclair/typebox';
import { KIND_NAMES, VidfleetError, isKindName, kindSpec, type KindName } from '../protocol/index.js';

const checkers = new Map<KindName, TypeCheck<TObject>>();

function checkerFor(kind: KindName): TypeCheck<TObject> {
  let checker = checkers.get(kind);
  if (!checker) {
    checker = TypeCompiler.Compile(kindSpec(kind).params);
    checkers.set(kind, checker);
  }
  return checker;
}

export function validateKind(kind: string): KindName {
  if (!isKindName(kind)) {
    throw new VidfleetError('UNKNOWN_KIND', `Unknown job kind "${kind}". Known kinds: ${KIND_NAMES.join(', ')}.`, { details: { known: KIND_NAMES } });
  }
  return kind;
}

/** Returns the params with schema defaults applied, or throws INVALID_PARAMS naming the field. */
export function validateParams(kind: KindName, params: unknown): Record<string, unknown> {
  const value = params === undefined ? {} : params;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VidfleetError('INVALID_PARAMS', `params for ${kind} must be a JSON object.`);
  }
  const checker = checkerFor(kind);
  const withDefaults = Value.Default(kindSpec(kind).params, structuredClone(value)) as Record<string, unknown>;
  const first = checker.Errors(withDefaults).First();
  if (first) {
    const field = first.path.replace(/^\//, '').replace(/\//g, '.') || '(params)';
    const shown = first.value === undefined ? '' : ` (got ${JSON.stringify(first.value)})`;
    const allowed = Object.keys(kindSpec(kind).params.properties);
    const message = first.message === 'Unexpected property'
      ? `Unknown parameter "${field}" for ${kind}. Allowed: ${allowed.join(', ') || 'none'}.`
      : `Invalid parameter "${field}" for ${kind}: ${first.message}${shown}.`;
    throw new VidfleetError('INVALID_PARAMS', message, { details: { field, allowed } });
  }
  const problem = kindSpec(kind).refine?.(withDefaults);
  if (problem) throw new VidfleetError('INVALID_PARAMS', `Invalid parameters for ${kind}: ${problem}.`);
  return withDefaults;
}

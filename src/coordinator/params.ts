// Validates a job's kind, params and input at submission, so a bad job is a 400 naming the
// field instead of a task that fails later on a worker.
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { TObject } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
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

/**
 * "Expected union value" names no problem. Of the alternatives' own errors, the one reaching
 * deepest into the value is the alternative the caller meant: for {samples: 0} given to
 * `true | {samples, bins}` that is "samples must be >= 1", not "expected boolean".
 */
function mostSpecific(error: ValueError): ValueError {
  if (error.type !== ValueErrorType.Union) return error;
  let best: ValueError | undefined;
  for (const alternative of error.errors) {
    const first = alternative.First();
    if (first && (!best || first.path.length > best.path.length)) best = first;
  }
  return best && best.path.length > error.path.length ? mostSpecific(best) : error;
}

/** Returns the params with schema defaults applied, or throws INVALID_PARAMS naming the field. */
export function validateParams(kind: KindName, params: unknown): Record<string, unknown> {
  const value = params === undefined ? {} : params;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VidfleetError('INVALID_PARAMS', `params for ${kind} must be a JSON object.`);
  }
  const checker = checkerFor(kind);
  const withDefaults = Value.Default(kindSpec(kind).params, structuredClone(value)) as Record<string, unknown>;
  const error = checker.Errors(withDefaults).First();
  if (error) {
    const first = mostSpecific(error);
    const field = first.path.replace(/^\//, '').replace(/\//g, '.') || '(params)';
    const shown = first.value === undefined ? '' : ` (got ${JSON.stringify(first.value)})`;
    // An unknown name inside a nested object is checked against that object's names.
    const properties = (first.schema as { properties?: Record<string, unknown> }).properties ?? kindSpec(kind).params.properties;
    const allowed = Object.keys(properties);
    const described = typeof first.schema.description === 'string' ? ` ${first.schema.description}` : '';
    const message = first.message === 'Unexpected property'
      ? `Unknown parameter "${field}" for ${kind}. Allowed: ${allowed.join(', ') || 'none'}.`
      : `Invalid parameter "${field}" for ${kind}: ${first.message}${shown}.${described}`;
    throw new VidfleetError('INVALID_PARAMS', message, { details: { field, allowed } });
  }
  const problem = kindSpec(kind).refine?.(withDefaults);
  if (problem) throw new VidfleetError('INVALID_PARAMS', `Invalid parameters for ${kind}: ${problem}.`);
  return withDefaults;
}

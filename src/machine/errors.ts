// Errors that cross layer boundaries. Guest misbehaviour is never an error here:
// it ends a run with a verdict. These are for the two cases that are not the guest's:
// input Ringside cannot accept, and guest behaviour Ringside does not model.

/** Unusable input: malformed image, bad option, corrupt save file. CLI exit 2, one line. */
export class BadInput extends Error {
  override readonly name = 'BadInput';
}

export { ModelError } from '../cpu/errors.js';

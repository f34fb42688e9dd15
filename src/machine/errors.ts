// Errors that cross layer boundaries. Guest misbehaviour is never an error here:
// it ends a run with a verdict. These are for the two cases that are not the guest's:
// input Ringside cannot accept, and guest behaviour Ringside does not model.

/** Unusable input: malformed image, bad option, corrupt save file. CLI exit 2, one line. */
export class BadInput extends Error {
  override readonly name = 'BadInput';
}

/** The guest reached something the model does not implement (named in the message). Exit 8. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
}

// The one error the CPU raises to its caller (faults are not errors: they are delivered
// to the guest). Declared in cpu/ so that every layer above can recognise it.

/** The guest reached something the model does not implement (named in the message). Exit 8. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
}

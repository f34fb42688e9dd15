// Formatting CPU values for messages (cold paths: BigInt is fine here).

/** Format a linear address held as a signed number as 64-bit hex. */
export function formatLinear(lin: number): string {
  const v = lin < 0 ? BigInt(lin) + (1n << 64n) : BigInt(lin);
  return '0x' + v.toString(16).padStart(16, '0');
}

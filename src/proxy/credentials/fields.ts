/** The first value of `name` (lower case) in a raw header list. */
export function headerValue(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}

/** A raw header list without the fields `names` (lower case). */
export function withoutHeaders(raw: readonly string[], names: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!names.includes((raw[i] as string).toLowerCase()))
      kept.push(raw[i] as string, raw[i + 1] as string);
  }
  return kept;
}

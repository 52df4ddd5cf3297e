const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The path a rule is matched against, and the path the proxy sends upstream (so the checked path
 * is the path the server sees): percent-encoded unreserved characters decoded, other escapes in
 * upper case, dot segments removed (RFC 3986 §5.2.4). `/ok/%2e%2e/secret` becomes `/secret`.
 */
export function normalizePath(path: string): string {
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : encoded.toUpperCase();
  });
  return removeDotSegments(decoded);
}

/**
 * True when reading `%2F` and `%5C` as separators, as some servers do before resolving dot segments,
 * would reveal a `.` or `..` segment: `/repos/me/..%2Fother` is `/repos/other` to such a server. An
 * allow rule with a path never matches such a request, since its path cannot say which one is meant.
 */
export function hasHiddenDotSegments(path: string): boolean {
  if (!/%2F|%5C/i.test(path)) return false;
  const reread = path.replace(/%2F|%5C/gi, "/");
  return removeDotSegments(reread) !== reread;
}

function removeDotSegments(path: string): string {
  if (!path.startsWith("/")) return path;
  const out: string[] = [];
  const segments = path.slice(1).split("/");
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === ".") {
      if (last) out.push("");
    } else if (segment === "..") {
      out.pop();
      if (last) out.push("");
    } else {
      out.push(segment);
    }
  });
  return `/${out.join("/")}`;
}

/**
 * Compiles a rule's `path` to an anchored RegExp. `/…/` is a regex; anything else is a glob
 * where `*` stays within a segment and `**` crosses segments (`/a/**` also matches `/a`).
 * Throws an Error whose message says what is wrong.
 */
export function compilePathPattern(text: string): RegExp {
  if (text.length >= 3 && text.startsWith("/") && text.endsWith("/")) {
    const body = text.slice(1, -1);
    // A body that starts with a plain character can never match a path (paths start with
    // '/'): most likely a glob with a trailing slash, and a deny rule that matches nothing.
    if (UNRESERVED.test(body.charAt(0))) {
      throw new Error(
        `'${text}' reads as a regex that can never match (paths start with '/'); ` +
          `as a glob write '${text}**' or '${text.slice(0, -1)}'`,
      );
    }
    return new RegExp(`^(?:${body})$`);
  }
  if (!text.startsWith("/")) throw new Error(`a path glob starts with '/'`);
  const normal = normalizePath(text);
  if (normal !== text) throw new Error(`write the path in normal form: '${normal}'`);
  return new RegExp(`^${globToRegexSource(text)}$`);
}

function globToRegexSource(glob: string): string {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob.charAt(i);
    if (glob.startsWith("/**", i) && (i + 3 === glob.length || glob.charAt(i + 3) === "/")) {
      // `/**` as whole segments: zero or more segments.
      source += "(?:/.*)?";
      i += 2;
    } else if (glob.startsWith("**", i)) {
      source += ".*";
      i += 1;
    } else if (char === "*") {
      source += "[^/]*";
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }
  }
  return source;
}

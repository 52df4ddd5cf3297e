import type http from "node:http";
import type { SeenRequest } from "./anthropic.js";

/** The tokens a fake token endpoint hands out for one refresh. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/**
 * A fake OAuth token endpoint (RFC 6749 §6): a refresh_token grant, as JSON or a form, whose
 * refresh token is `accepts` gets `issues`, the way platform.claude.com answers (with the
 * account and scope beside the tokens); anything else gets 400 invalid_grant. Every request is
 * recorded in `seen`.
 */
export function oauthTokenHandler(
  accepts: string,
  issues: IssuedTokens,
  seen: SeenRequest[],
): http.RequestListener {
  return (req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      const grant = req.headers["content-type"]?.startsWith("application/json")
        ? (JSON.parse(body) as Record<string, string>)
        : Object.fromEntries(new URLSearchParams(body));
      res.setHeader("content-type", "application/json");
      if (grant.grant_type !== "refresh_token" || grant.refresh_token !== accepts) {
        res.writeHead(400).end(JSON.stringify({ error: "invalid_grant" }));
        return;
      }
      res.writeHead(200).end(
        JSON.stringify({
          token_type: "Bearer",
          access_token: issues.accessToken,
          refresh_token: issues.refreshToken,
          expires_in: issues.expiresIn,
          scope: grant.scope ?? "user:inference",
          account: {
            uuid: "00000000-0000-4000-8000-000000000001",
            email_address: "me@example.com",
          },
          organization: { uuid: "00000000-0000-4000-8000-000000000002" },
        }),
      );
    });
  };
}

import type { AgentCredential } from "../../src/spec/agent.js";

/**
 * GitHub for git and gh in every agent's jail. The token is read on the host from GH_TOKEN, the
 * variable gh documents (https://cli.github.com/manual/gh_help_environment), and its dummy is the
 * jail's GH_TOKEN. gh sends it to api.github.com as `authorization: token …`; git sends it to
 * github.com as the password of Basic credentials
 * (https://docs.github.com/en/get-started/git-basics/about-remote-repositories#cloning-with-https-urls),
 * where the proxy finds the dummy and puts the real token in. Left out when GH_TOKEN is unset.
 */
export const githubCredential: AgentCredential = {
  hosts: ["github.com", "api.github.com"],
  header: "authorization",
  format: "token {token}",
  source: { env: "GH_TOKEN" },
  sandboxEnv: "GH_TOKEN",
};

/**
 * git's credential helper for github.com in the jail, set through git's GIT_CONFIG_* variables
 * (https://git-scm.com/docs/git-config#ENVIRONMENT): it answers with the dummy in GH_TOKEN.
 */
export const githubGitEnv: Record<string, string> = {
  GIT_CONFIG_COUNT: "1",
  GIT_CONFIG_KEY_0: "credential.https://github.com.helper",
  GIT_CONFIG_VALUE_0:
    '!f() { test "$1" = get && test -n "$GH_TOKEN" && echo username=x-access-token && echo "password=$GH_TOKEN"; }; f',
};

// A real OpenID Connect provider for Berth's tests: the npm package oidc-provider (pinned in
// scripts/install-test-deps), configured here and run with Debian's nodejs.
//
//   node oidc_provider.mjs            (settings from the environment)
//   OIDC_PORT          port on 127.0.0.1 (the issuer is http://127.0.0.1:<port>)
//   OIDC_REDIRECT_URIS space-separated redirect URIs of the client "berth"
//   OIDC_PROVIDER_DIR  the npm prefix oidc-provider is installed under
//   OIDC_ACCOUNTS      JSON {"<sub>": {"email": ..., "groups": [...]}, ...}
//
// Clients: "berth" (secret "berth-client-secret"; authorization code with PKCE, and
// client credentials) and "ci" (secret "ci-client-secret"; client credentials only, whose
// access tokens are JWTs for the resource "https://berth.test", subject "ci").
// The devInteractions login form accepts any password for an account of OIDC_ACCOUNTS.
// On SIGUSR2 the signing keys rotate (a new key signs; the old one is still published).
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// OIDC_PROVIDER_DIR: where scripts/install-test-deps installed the package (npm --prefix)
const entry = join(process.env.OIDC_PROVIDER_DIR, 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { Provider } = await import(pathToFileURL(entry).href);

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
const RESOURCE = 'https://berth.test';

function newKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

let keys = [newKey('key-1')];

function configuration() {
  return {
    clients: [
      {
        client_id: 'berth',
        client_secret: 'berth-client-secret',
        redirect_uris: (process.env.OIDC_REDIRECT_URIS || '').split(' ').filter(Boolean),
        grant_types: ['authorization_code', 'client_credentials'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'ci',
        client_secret: 'ci-client-secret',
        redirect_uris: [],
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        getResourceServerInfo: () => ({
          scope: 'openid',
          audience: RESOURCE,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
        useGrantedResource: () => true,
      },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      const account = accounts[sub];
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: account.email || `${sub}@example.org`,
            email_verified: true,
            preferred_username: account.preferred_username || sub,
            name: sub,
            groups: account.groups || [],
          };
        },
      };
    },
    ttl: { AccessToken: 600, ClientCredentials: 600, IdToken: 600 },
  };
}

let provider = new Provider(issuer, configuration());
provider.proxy = false;
let server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

process.on('SIGUSR2', () => {
  keys = [newKey(`key-${keys.length + 1}`), ...keys];
  server.close();
  provider = new Provider(issuer, configuration());
  server = provider.listen(port, '127.0.0.1', () => {
    console.log(`keys rotated: ${keys.map((k) => k.kid).join(' ')}`);
  });
});
process.on('SIGTERM', () => process.exit(0));

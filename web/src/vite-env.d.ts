/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Envoy's base URL, for example http://127.0.0.1:8080. Defaults to this host on port 8080. */
  readonly VITE_API_BASE_URL?: string;
  /** Comma-separated OAuth providers to offer (google, github, facebook); default all three. */
  readonly VITE_OAUTH_PROVIDERS?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}

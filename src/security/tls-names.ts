/**
 * Go's TLS names (as written in exporter-toolkit web config files) mapped to
 * what Node's TLS layer (OpenSSL) understands, so one file serves node_exporter
 * and netprobe alike.
 */

/** `min_version` / `max_version` values → Node's `minVersion` / `maxVersion`. */
export const TLS_VERSIONS: Readonly<Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'>> = Object.freeze({
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
});

/**
 * `cipher_suites` (Go's IANA-style names) → OpenSSL names. Like Go, the list
 * only governs TLS 1.2 and below: TLS 1.3 suites are not configurable, and
 * Node keeps its TLS 1.3 defaults when the list names none. RC4 and 3DES
 * suites, which Go still knows, are left out on purpose: OpenSSL 3 refuses them.
 */
export const CIPHER_SUITES: Readonly<Record<string, string>> = Object.freeze({
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // Go's legacy aliases of the two CHACHA20 suites.
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
});

/**
 * What TLS 1.2 offers when `cipher_suites` names none: ECDHE key exchange
 * (forward secrecy) with AES-GCM or ChaCha20-Poly1305 only, as exporter-toolkit
 * on current Go does. Node's own default list would also offer static-RSA key
 * exchange and CBC suites. No TLS 1.3 name is in it, so TLS 1.3 keeps Node's
 * defaults. An explicit `cipher_suites` replaces it.
 */
export const DEFAULT_TLS12_CIPHERS: string = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** `curve_preferences` (Go's names) → OpenSSL group names for `ecdhCurve`. */
export const CURVES: Readonly<Record<string, string>> = Object.freeze({
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
});

/** exporter-toolkit's `client_auth_type` values (`RequireClientCert` is its alias of `RequireAnyClientCert`). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'RequireClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

/**
 * Response headers exporter-toolkit lets `http_server_config.headers` set
 * (it refuses any other name, and so do we).
 */
export const SETTABLE_HEADERS: readonly string[] = [
  'Content-Security-Policy',
  'Strict-Transport-Security',
  'X-Content-Type-Options',
  'X-Frame-Options',
  'X-XSS-Protection',
];

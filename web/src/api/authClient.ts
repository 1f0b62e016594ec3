import { createClient } from "@connectrpc/connect";
import { AuthService } from "@gen/trading/identity/v1/auth_service_pb";
import { authTransport, transport } from "./transport";

// One module per client, so that a route's chunk holds only the services it calls.

/** trading.identity.v1.AuthService (public: sign-in, registration, refresh, ...). */
export const authClient = createClient(AuthService, authTransport);

/**
 * AuthService without credentials, for calls that must never touch the refresh cookie (the
 * account page's phone check signs in a second time; see features/account/phoneVerification.ts).
 */
export const authClientNoCookie = createClient(AuthService, transport);

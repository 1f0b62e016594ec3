import { createClient } from "@connectrpc/connect";
import { UserService } from "@gen/trading/identity/v1/user_service_pb";
import { transport } from "./transport";

/** trading.identity.v1.UserService: the signed-in user's own account. */
export const userClient = createClient(UserService, transport);

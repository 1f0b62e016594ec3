import { createClient } from "@connectrpc/connect";
import { UserAdminService } from "@gen/trading/identity/v1/user_admin_service_pb";
import { transport } from "./transport";

/** trading.identity.v1.UserAdminService (role admin). */
export const adminClient = createClient(UserAdminService, transport);

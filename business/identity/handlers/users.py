"""UserService: the signed-in caller's own account (the `sub` of the verified token)."""

from __future__ import annotations

from business.identity.domain import accounts, email_links, oauth_login, second_factor, sessions
from business.identity.domain.context import Identity
from business.identity.handlers import messages
from business.shared.proto_mapping import Context, client_of
from service_runtime.caller import current_caller
from trading.identity.v1 import user_service_pb2 as pb
from trading.identity.v1 import user_service_pb2_grpc as pb_grpc


class UserHandlers(pb_grpc.UserServiceServicer):
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    async def GetMe(self, request: pb.GetMeRequest, context: Context) -> pb.GetMeResponse:
        account = await accounts.load_account(self.identity, current_caller().subject)
        return pb.GetMeResponse(user=messages.user(account))

    async def UpdateMe(self, request: pb.UpdateMeRequest, context: Context) -> pb.UpdateMeResponse:
        account = await accounts.update_me(
            self.identity,
            current_caller().subject,
            request.display_name if request.HasField("display_name") else None,
            request.phone_number if request.HasField("phone_number") else None,
            client_of(context),
        )
        return pb.UpdateMeResponse(user=messages.user(account))

    async def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: Context
    ) -> pb.ChangePasswordResponse:
        caller = current_caller()
        await accounts.change_password(
            self.identity,
            caller.subject,
            caller.session_id,
            request.current_password,
            request.new_password,
            client_of(context),
        )
        return pb.ChangePasswordResponse()

    async def EnrollTotp(self, request: pb.EnrollTotpRequest, context: Context) -> pb.EnrollTotpResponse:
        enrollment = await second_factor.enroll_totp(
            self.identity, current_caller().subject, client_of(context)
        )
        return pb.EnrollTotpResponse(
            secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri, qr_svg=enrollment.qr_svg
        )

    async def ConfirmTotp(self, request: pb.ConfirmTotpRequest, context: Context) -> pb.ConfirmTotpResponse:
        codes = await second_factor.confirm_totp(
            self.identity, current_caller().subject, request.code, client_of(context)
        )
        return pb.ConfirmTotpResponse(backup_codes=codes)

    async def DisableTotp(self, request: pb.DisableTotpRequest, context: Context) -> pb.DisableTotpResponse:
        await second_factor.disable_totp(
            self.identity, current_caller().subject, messages.factor(request), client_of(context)
        )
        return pb.DisableTotpResponse()

    async def RegenerateBackupCodes(
        self, request: pb.RegenerateBackupCodesRequest, context: Context
    ) -> pb.RegenerateBackupCodesResponse:
        codes = await second_factor.regenerate_backup_codes(
            self.identity, current_caller().subject, messages.factor(request), client_of(context)
        )
        return pb.RegenerateBackupCodesResponse(backup_codes=codes)

    async def UnlinkOAuthProvider(
        self, request: pb.UnlinkOAuthProviderRequest, context: Context
    ) -> pb.UnlinkOAuthProviderResponse:
        account = await oauth_login.unlink_provider(
            self.identity, current_caller().subject, request.provider, client_of(context)
        )
        return pb.UnlinkOAuthProviderResponse(user=messages.user(account))

    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: Context
    ) -> pb.ListSessionsResponse:
        caller = current_caller()
        found = await sessions.list_sessions(self.identity, caller.subject)
        return pb.ListSessionsResponse(sessions=[messages.session(s, caller.session_id) for s in found])

    async def RevokeSession(
        self, request: pb.RevokeSessionRequest, context: Context
    ) -> pb.RevokeSessionResponse:
        await sessions.revoke_own_session(
            self.identity, current_caller().subject, request.session_id, client_of(context)
        )
        return pb.RevokeSessionResponse()

    async def ResendEmailVerification(
        self, request: pb.ResendEmailVerificationRequest, context: Context
    ) -> pb.ResendEmailVerificationResponse:
        sent = await email_links.resend_verification(
            self.identity, current_caller().subject, client_of(context)
        )
        return pb.ResendEmailVerificationResponse(sent=sent)

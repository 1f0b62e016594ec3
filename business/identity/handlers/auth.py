"""AuthService: translates requests to the identity use cases and their results back."""

from __future__ import annotations

from business.audit.domain import Client
from business.identity.domain import accounts, email_links, oauth_login, phone_login, sessions
from business.identity.domain.context import Identity
from business.identity.domain.second_factor import verify_second_factor
from business.identity.handlers import messages
from business.identity.handlers.refresh_header import hand_to_edge, presented_token
from business.shared.proto_mapping import Context, client_of
from trading.identity.v1 import auth_service_pb2 as pb
from trading.identity.v1 import auth_service_pb2_grpc as pb_grpc


class AuthHandlers(pb_grpc.AuthServiceServicer):
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    async def Register(self, request: pb.RegisterRequest, context: Context) -> pb.RegisterResponse:
        message = await accounts.register(
            self.identity, request.email, request.password, request.display_name, client_of(context)
        )
        return pb.RegisterResponse(message=message)

    async def Login(self, request: pb.LoginRequest, context: Context) -> pb.LoginResponse:
        result = await accounts.login(self.identity, request.email, request.password, client_of(context))
        reply = pb.LoginResponse(**messages.sign_in_fields(result))
        await hand_to_edge(context, reply.tokens if reply.HasField("tokens") else None)
        return reply

    async def VerifySecondFactor(
        self, request: pb.VerifySecondFactorRequest, context: Context
    ) -> pb.VerifySecondFactorResponse:
        pair = await verify_second_factor(
            self.identity, request.challenge_token, messages.factor(request), client_of(context)
        )
        reply = pb.VerifySecondFactorResponse(tokens=messages.token_pair(pair))
        await hand_to_edge(context, reply.tokens)
        return reply

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.RefreshResponse:
        token = presented_token(context, request.refresh_token)
        pair = await sessions.refresh(self.identity, token, client_of(context))
        reply = pb.RefreshResponse(tokens=messages.token_pair(pair))
        await hand_to_edge(context, reply.tokens)
        return reply

    async def Logout(self, request: pb.LogoutRequest, context: Context) -> pb.LogoutResponse:
        await sessions.logout(
            self.identity, presented_token(context, request.refresh_token), client_of(context)
        )
        return pb.LogoutResponse()

    async def StartPhoneLogin(
        self, request: pb.StartPhoneLoginRequest, context: Context
    ) -> pb.StartPhoneLoginResponse:
        ttl = await phone_login.start_phone_login(self.identity, request.phone_number, client_of(context))
        return pb.StartPhoneLoginResponse(expires_in=ttl)

    async def VerifyPhoneLogin(
        self, request: pb.VerifyPhoneLoginRequest, context: Context
    ) -> pb.VerifyPhoneLoginResponse:
        result = await phone_login.verify_phone_login(
            self.identity, request.phone_number, request.code, client_of(context)
        )
        reply = pb.VerifyPhoneLoginResponse(**messages.sign_in_fields(result))
        await hand_to_edge(context, reply.tokens if reply.HasField("tokens") else None)
        return reply

    async def VerifyEmail(self, request: pb.VerifyEmailRequest, context: Context) -> pb.VerifyEmailResponse:
        await email_links.verify_email(self.identity, request.token, request.password, client_of(context))
        return pb.VerifyEmailResponse()

    async def ForgotPassword(
        self, request: pb.ForgotPasswordRequest, context: Context
    ) -> pb.ForgotPasswordResponse:
        message = await email_links.forgot_password(self.identity, request.email, client_of(context))
        return pb.ForgotPasswordResponse(message=message)

    async def ResetPassword(
        self, request: pb.ResetPasswordRequest, context: Context
    ) -> pb.ResetPasswordResponse:
        await email_links.reset_password(
            self.identity, request.token, request.new_password, client_of(context)
        )
        return pb.ResetPasswordResponse()

    async def CompleteOAuthLogin(
        self, request: pb.CompleteOAuthLoginRequest, context: Context
    ) -> pb.CompleteOAuthLoginResponse:
        # The gateway calls on the browser's behalf: its address and agent describe the sign-in.
        seen = client_of(context)
        client = Client(
            request.client_ip[:64] or seen.ip, request.user_agent[:300] or seen.user_agent, seen.request_id
        )
        profile = oauth_login.ProviderProfile(
            request.provider, request.subject, request.email, request.email_verified, request.display_name
        )
        outcome = await oauth_login.complete_oauth_login(self.identity, profile, client)
        return pb.CompleteOAuthLoginResponse(
            **messages.sign_in_fields(outcome.result),
            user_id=outcome.user_id,
            created=outcome.created,
            linked=outcome.linked,
        )

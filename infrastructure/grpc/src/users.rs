//! `todo.v1.UserService`: registration, sessions and users, each method one use case.

use std::sync::Arc;

use application::{
    AppError, UseCases,
    users::{Credentials, LogInError},
};
use domain::user::{Email, Password};
use tonic::{Request, Response, Status};

use crate::{
    api::{self, user_service_server::UserService},
    auth::caller_of,
    convert,
    status::report,
};

/// The user service over the use cases.
#[derive(Debug, Clone)]
pub struct UserApi {
    use_cases: Arc<UseCases>,
}

impl UserApi {
    /// The service over `use_cases`.
    pub fn new(use_cases: Arc<UseCases>) -> Self {
        Self { use_cases }
    }
}

/// The client's address, as the server accepted the connection.
fn client_address<T>(request: &Request<T>) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|connected| connected.0.ip())
}

#[tonic::async_trait]
impl UserService for UserApi {
    async fn register(
        &self,
        request: Request<api::RegisterRequest>,
    ) -> Result<Response<api::User>, Status> {
        let from = client_address(&request);
        let registration = convert::registration(request.into_inner()).map_err(report)?;
        let user = self
            .use_cases
            .register
            .register(registration, from)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::user(&user)))
    }

    async fn log_in(
        &self,
        request: Request<api::LogInRequest>,
    ) -> Result<Response<api::LogInResponse>, Status> {
        let from = client_address(&request);
        let api::LogInRequest { email, password } = request.into_inner();
        // A malformed email or password cannot belong to an account: the same answer as a
        // wrong one, so the error says nothing about which it was.
        let credentials = match (Email::parse(&email), Password::new(password)) {
            (Ok(email), Ok(password)) => Credentials { email, password },
            _ => return Err(report(AppError::from(LogInError::InvalidCredentials))),
        };
        let logged_in = self
            .use_cases
            .log_in
            .execute(credentials, from)
            .await
            .map_err(report)?;
        Ok(Response::new(api::LogInResponse {
            token: logged_in.token.expose().to_owned(),
            expire_time: Some(convert::timestamp(logged_in.session.expires_at)),
            user: Some(convert::user(&logged_in.user)),
        }))
    }

    async fn log_out(
        &self,
        request: Request<api::LogOutRequest>,
    ) -> Result<Response<api::LogOutResponse>, Status> {
        let caller = caller_of(&request)?;
        self.use_cases
            .log_out
            .execute(&caller.token)
            .await
            .map_err(report)?;
        Ok(Response::new(api::LogOutResponse {}))
    }

    async fn get_me(
        &self,
        request: Request<api::GetMeRequest>,
    ) -> Result<Response<api::User>, Status> {
        let caller = caller_of(&request)?;
        let user = self
            .use_cases
            .current_user
            .execute(&caller.actor)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::user(&user)))
    }

    async fn list_users(
        &self,
        request: Request<api::ListUsersRequest>,
    ) -> Result<Response<api::ListUsersResponse>, Status> {
        let caller = caller_of(&request)?;
        let (cursor, size) = convert::user_page(request.get_ref()).map_err(report)?;
        let page = self
            .use_cases
            .list_users
            .execute(&caller.actor, cursor, size)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::user_list(&page)))
    }
}

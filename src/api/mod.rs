//! The REST API, compatible with FreeScout's "API & Webhooks" module: the same paths under
//! `/api/`, key authentication, JSON shapes, enumerations, paging and error body.
//!
//! [`routes`] is the one list of API routes: [`configure`] registers them and
//! [`openapi::document`] describes them, so nothing is served undocumented. Every handler
//! takes an [`auth::ApiUser`] and asks [`crate::permissions`] for each mailbox it touches,
//! so a key sees exactly what its user sees in the UI.

pub mod auth;
mod conversations;
mod customers;
pub mod error;
pub mod input;
pub mod keys;
mod mailboxes;
pub mod openapi;
mod threads;
mod users;
pub mod views;
pub mod webhooks;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};

use self::error::ApiError;
use self::openapi::{Doc, schema};

/// One API route: method, path (actix syntax), documentation and handler.
pub struct ApiRoute {
    /// HTTP method.
    pub method: Method,
    /// Path, e.g. `/api/conversations/{conversationId}`.
    pub path: &'static str,
    /// What `/api/openapi.json` says about it.
    pub doc: Doc,
    handler: fn() -> actix_web::Route,
}

fn route(
    method: Method,
    path: &'static str,
    doc: Doc,
    handler: fn() -> actix_web::Route,
) -> ApiRoute {
    ApiRoute {
        method,
        path,
        doc,
        handler,
    }
}

const fn doc(id: &'static str, summary: &'static str, tag: &'static str, status: u16) -> Doc {
    Doc {
        id,
        summary,
        tag,
        query: None,
        body: None,
        status,
        response: None,
    }
}

/// Every API route.
pub fn routes() -> Vec<ApiRoute> {
    use views::{ConversationView, CustomerView, MailboxView, UserView};
    vec![
        route(
            Method::GET,
            "/api/openapi.json",
            Doc {
                response: Some(schema::<serde_json::Value>),
                ..doc("openapi", "This document", "Meta", 200)
            },
            || web::route().to(openapi_json),
        ),
        route(
            Method::GET,
            "/api/me",
            Doc {
                response: Some(schema::<UserView>),
                ..doc("getMe", "The user the key acts as", "Users", 200)
            },
            || web::route().to(users::me),
        ),
        route(
            Method::GET,
            "/api/conversations",
            Doc {
                query: Some(schema::<conversations::ListQuery>),
                response: Some(schema::<conversations::ConversationList>),
                ..doc(
                    "listConversations",
                    "List conversations",
                    "Conversations",
                    200,
                )
            },
            || web::route().to(conversations::list),
        ),
        route(
            Method::POST,
            "/api/conversations",
            Doc {
                body: Some(schema::<conversations::CreateConversation>),
                response: Some(schema::<conversations::Created>),
                ..doc(
                    "createConversation",
                    "Create a conversation with its threads",
                    "Conversations",
                    201,
                )
            },
            || web::route().to(conversations::create),
        ),
        route(
            Method::GET,
            "/api/conversations/{conversationId}",
            Doc {
                query: Some(schema::<conversations::GetQuery>),
                response: Some(schema::<ConversationView>),
                ..doc(
                    "getConversation",
                    "Get a conversation",
                    "Conversations",
                    200,
                )
            },
            || web::route().to(conversations::get),
        ),
        route(
            Method::PUT,
            "/api/conversations/{conversationId}",
            Doc {
                body: Some(schema::<conversations::UpdateConversation>),
                ..doc(
                    "updateConversation",
                    "Update a conversation",
                    "Conversations",
                    204,
                )
            },
            || web::route().to(conversations::update),
        ),
        route(
            Method::DELETE,
            "/api/conversations/{conversationId}",
            doc(
                "deleteConversation",
                "Delete a conversation",
                "Conversations",
                204,
            ),
            || web::route().to(conversations::delete),
        ),
        route(
            Method::POST,
            "/api/conversations/{conversationId}/threads",
            Doc {
                body: Some(schema::<threads::CreateThread>),
                response: Some(schema::<conversations::Created>),
                ..doc(
                    "createThread",
                    "Add a customer message, reply or note",
                    "Threads",
                    201,
                )
            },
            || web::route().to(threads::create),
        ),
        route(
            Method::GET,
            "/api/customers",
            Doc {
                query: Some(schema::<customers::ListQuery>),
                response: Some(schema::<customers::CustomerList>),
                ..doc("listCustomers", "List customers", "Customers", 200)
            },
            || web::route().to(customers::list),
        ),
        route(
            Method::POST,
            "/api/customers",
            Doc {
                body: Some(schema::<customers::CustomerInput>),
                response: Some(schema::<conversations::Created>),
                ..doc("createCustomer", "Create a customer", "Customers", 201)
            },
            || web::route().to(customers::create),
        ),
        route(
            Method::GET,
            "/api/customers/{customerId}",
            Doc {
                response: Some(schema::<CustomerView>),
                ..doc("getCustomer", "Get a customer", "Customers", 200)
            },
            || web::route().to(customers::get),
        ),
        route(
            Method::PUT,
            "/api/customers/{customerId}",
            Doc {
                body: Some(schema::<customers::CustomerUpdate>),
                ..doc("updateCustomer", "Update a customer", "Customers", 204)
            },
            || web::route().to(customers::update),
        ),
        route(
            Method::GET,
            "/api/users",
            Doc {
                query: Some(schema::<users::ListQuery>),
                response: Some(schema::<users::UserList>),
                ..doc("listUsers", "List users", "Users", 200)
            },
            || web::route().to(users::list),
        ),
        route(
            Method::GET,
            "/api/users/{userId}",
            Doc {
                response: Some(schema::<UserView>),
                ..doc("getUser", "Get a user", "Users", 200)
            },
            || web::route().to(users::get),
        ),
        route(
            Method::GET,
            "/api/mailboxes",
            Doc {
                query: Some(schema::<mailboxes::ListQuery>),
                response: Some(schema::<mailboxes::MailboxList>),
                ..doc("listMailboxes", "List mailboxes", "Mailboxes", 200)
            },
            || web::route().to(mailboxes::list),
        ),
        route(
            Method::GET,
            "/api/mailboxes/{mailboxId}",
            Doc {
                response: Some(schema::<MailboxView>),
                ..doc("getMailbox", "Get a mailbox", "Mailboxes", 200)
            },
            || web::route().to(mailboxes::get),
        ),
        route(
            Method::GET,
            "/api/mailboxes/{mailboxId}/folders",
            Doc {
                query: Some(schema::<mailboxes::FolderQuery>),
                response: Some(schema::<mailboxes::FolderList>),
                ..doc("listFolders", "List a mailbox's folders", "Mailboxes", 200)
            },
            || web::route().to(mailboxes::folders),
        ),
        route(
            Method::POST,
            "/api/webhooks",
            Doc {
                body: Some(schema::<webhooks::CreateWebhook>),
                response: Some(schema::<webhooks::WebhookView>),
                ..doc("createWebhook", "Create a webhook", "Webhooks", 201)
            },
            || web::route().to(webhooks::create),
        ),
        route(
            Method::DELETE,
            "/api/webhooks/{webhookId}",
            doc("deleteWebhook", "Delete a webhook", "Webhooks", 204),
            || web::route().to(webhooks::delete),
        ),
    ]
}

/// Registers the API routes, one resource per path, each answering JSON errors for a
/// bad path id (404) and an unknown method (405).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let all = routes();
    let mut paths: Vec<&'static str> = Vec::new();
    for r in &all {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path)
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
        for r in all.iter().filter(|r| r.path == path) {
            resource = resource.route((r.handler)().method(r.method.clone()));
        }
        cfg.service(resource.default_service(web::to(method_not_allowed)));
    }
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// `GET /api/openapi.json`: public, like any API description.
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi::document())
}

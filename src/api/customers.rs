//! `/api/customers`: list with filters, get, create and update. Customers are shared by
//! all mailboxes, so any active user's key may read and write them (as in the UI).
//! Postdesk keeps names, company, job title, notes and email addresses; phones, social
//! profiles, websites, address and photo are accepted and not kept.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::ApiUser;
use super::conversations::created;
use super::error::{ApiError, FieldError, run, run_tx};
use super::input::{ApiJson, ApiQuery, Checks, date, paging, sorting};
use super::views::{self, CustomerRow, CustomerView, Page};
use crate::AppState;
use crate::db::schema::{customer_emails, customers};
use crate::db::{AnyConnection, now};
use crate::models::customer::{self, NewCustomer};
use crate::models::event::{self, EventKind, NewEvent};

type Db = <AnyConnection as diesel::Connection>::Backend;

const SORT_FIELDS: [&str; 4] = ["createdAt", "firstName", "lastName", "updatedAt"];

/// Query of `GET /api/customers`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Given name.
    first_name: Option<String>,
    /// Family name.
    last_name: Option<String>,
    /// Phone (phones are not kept: no customer matches).
    phone: Option<String>,
    /// Email address.
    email: Option<String>,
    /// Changed after this date-time.
    #[schemars(extend("format" = "date-time"))]
    updated_since: Option<String>,
    /// createdAt (default), firstName, lastName, updatedAt.
    sort_field: Option<String>,
    /// desc (default) or asc.
    sort_order: Option<String>,
    /// Page number, from 1.
    #[schemars(with = "Option<u32>")]
    page: Option<String>,
    /// Page size (default 50, at most 100).
    #[schemars(with = "Option<u32>")]
    page_size: Option<String>,
}

/// `_embedded` of a customer list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Customers {
    /// The customers.
    customers: Vec<CustomerView>,
}

/// A page of customers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CustomerList {
    /// The customers.
    #[serde(rename = "_embedded")]
    embedded: Customers,
    /// Paging.
    page: Page,
}

/// `GET /api/customers`.
pub async fn list(
    state: web::Data<AppState>,
    _me: ApiUser,
    q: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let mut checks = Checks::default();
    let (number, size) = paging(&mut checks, &q.page, &q.page_size);
    let (sort, asc) = sorting(&mut checks, &q.sort_field, &q.sort_order, &SORT_FIELDS);
    let updated_since = checks
        .keep(date("updatedSince", &q.updated_since))
        .flatten();
    checks.finish()?;
    let first = q.first_name.filter(|s| !s.is_empty());
    let last = q.last_name.filter(|s| !s.is_empty());
    let email = q
        .email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let nothing = q.phone.is_some_and(|p| !p.is_empty());
    let out = run(&state.pool, move |c| {
        let base = || {
            let mut query: customers::BoxedQuery<'static, Db> = customers::table.into_boxed();
            if nothing {
                query = query.filter(customers::id.eq(-1));
            }
            if let Some(f) = &first {
                query = query.filter(customers::first_name.eq(f.clone()));
            }
            if let Some(l) = &last {
                query = query.filter(customers::last_name.eq(l.clone()));
            }
            if let Some(e) = &email {
                query = query.filter(
                    customers::id.eq_any(
                        customer_emails::table
                            .filter(customer_emails::email.eq(e.clone()))
                            .select(customer_emails::customer_id),
                    ),
                );
            }
            if let Some(t) = updated_since {
                query = query.filter(customers::updated_at.gt(t));
            }
            query
        };
        let total: i64 = base().count().get_result(c)?;
        let q = base();
        macro_rules! by {
            ($col:expr) => {
                if asc {
                    q.order(($col.asc(), customers::id.asc()))
                } else {
                    q.order(($col.desc(), customers::id.desc()))
                }
            };
        }
        let q = match sort.as_str() {
            "firstName" => by!(customers::first_name),
            "lastName" => by!(customers::last_name),
            "updatedAt" => by!(customers::updated_at),
            _ => by!(customers::created_at),
        };
        let rows: Vec<CustomerRow> = q
            .offset(Page::offset(number, size))
            .limit(size)
            .select(CustomerRow::as_select())
            .load(c)?;
        Ok(CustomerList {
            embedded: Customers {
                customers: views::customer_views(c, rows)?,
            },
            page: Page::new(number, size, total),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /api/customers/{customerId}`.
pub async fn get(
    state: web::Data<AppState>,
    _me: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = run(&state.pool, move |c| Ok(views::customer_view(c, id)?))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(found))
}

/// An email entry of a new customer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct EmailInput {
    /// The address.
    pub value: String,
    /// work, home or other.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// Body of `POST /api/customers` (phones, address, photo, social profiles and websites
/// are not kept and are ignored like any unknown field).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInput {
    /// Given name (at most 40 characters).
    pub first_name: Option<String>,
    /// Family name (at most 40 characters).
    pub last_name: Option<String>,
    /// Company (at most 60 characters).
    pub company: Option<String>,
    /// Job title (at most 60 characters).
    pub job_title: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Email addresses.
    pub emails: Option<Vec<EmailInput>>,
}

/// Body of `PUT /api/customers/{customerId}`: fields left out keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerUpdate {
    /// Given name (at most 40 characters).
    pub first_name: Option<String>,
    /// Family name (at most 40 characters).
    pub last_name: Option<String>,
    /// Company (at most 60 characters).
    pub company: Option<String>,
    /// Job title (at most 60 characters).
    pub job_title: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// The complete list of addresses (then `emails_add` is ignored).
    pub emails: Option<Vec<String>>,
    /// Addresses to add.
    #[serde(rename = "emails_add")]
    pub emails_add: Option<Vec<String>>,
}

fn check_len(checks: &mut Checks, path: &str, value: &Option<String>, max: usize) {
    if let Some(v) = value
        && v.chars().count() > max
    {
        checks.push(
            FieldError::json(path, format!("must be at most {max} characters"))
                .rejecting(v.as_str()),
        );
    }
}

fn check_email(checks: &mut Checks, path: &str, value: &str) -> Option<String> {
    let e = value.trim().to_lowercase();
    if e.parse::<lettre::Address>().is_err() {
        checks.push(FieldError::json(path, "not a well-formed email address").rejecting(value));
        return None;
    }
    Some(e)
}

fn check_names(
    checks: &mut Checks,
    first: &Option<String>,
    last: &Option<String>,
    company: &Option<String>,
    job: &Option<String>,
) {
    check_len(checks, "firstName", first, 40);
    check_len(checks, "lastName", last, 40);
    check_len(checks, "company", company, 60);
    check_len(checks, "jobTitle", job, 60);
}

fn email_type(kind: Option<&str>) -> i16 {
    match kind {
        Some("home") => 2,
        Some("other") => 3,
        _ => 1,
    }
}

/// Whether `email` belongs to a customer other than `except`.
fn taken(c: &mut AnyConnection, email: &str, except: Option<i64>) -> QueryResult<bool> {
    Ok(customer::find_by_email(c, email)?.is_some_and(|found| Some(found.id) != except))
}

/// `POST /api/customers`: 409 when one of the emails already belongs to a customer.
pub async fn create(
    state: web::Data<AppState>,
    _me: ApiUser,
    body: ApiJson<CustomerInput>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let mut checks = Checks::default();
    check_names(
        &mut checks,
        &b.first_name,
        &b.last_name,
        &b.company,
        &b.job_title,
    );
    let emails: Vec<(String, i16)> = b
        .emails
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, e)| {
            check_email(&mut checks, &format!("emails[{i}].value"), &e.value)
                .map(|v| (v, email_type(e.kind.as_deref())))
        })
        .collect();
    checks.finish()?;
    let id = run_tx(&state.pool, move |c| {
        for (e, _) in &emails {
            if taken(c, e, None)? {
                return Err(ApiError::Conflict(format!(
                    "a customer with {e} already exists"
                )));
            }
        }
        let at = now();
        let id = crate::db::dialect::write_transaction(&mut *c, |c| {
            let id = customer::create_with_emails(
                c,
                &NewCustomer {
                    first_name: b.first_name.as_deref().unwrap_or("").trim(),
                    last_name: b.last_name.as_deref().unwrap_or("").trim(),
                    company: b.company.as_deref().unwrap_or("").trim(),
                    created_at: at,
                    updated_at: at,
                },
                &emails.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
            )?;
            diesel::update(customers::table.find(id))
                .set((
                    customers::job_title.eq(b.job_title.as_deref().unwrap_or("").trim()),
                    customers::notes.eq(b.notes.as_deref().unwrap_or("")),
                ))
                .execute(c)?;
            for (e, kind) in &emails {
                diesel::update(customer_emails::table.filter(customer_emails::email.eq(e)))
                    .set(customer_emails::email_type.eq(kind))
                    .execute(c)?;
            }
            event::record(
                c,
                EventKind::CustomerCreated,
                NewEvent {
                    payload: serde_json::json!({"customer_id": id, "api": true}),
                    ..NewEvent::default()
                },
            )?;
            Ok::<_, diesel::result::Error>(id)
        })?;
        Ok(id)
    })
    .await?;
    Ok(created(id))
}

/// `PUT /api/customers/{customerId}`.
pub async fn update(
    state: web::Data<AppState>,
    _me: ApiUser,
    id: web::Path<i64>,
    body: ApiJson<CustomerUpdate>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let b = body.0;
    let mut checks = Checks::default();
    check_names(
        &mut checks,
        &b.first_name,
        &b.last_name,
        &b.company,
        &b.job_title,
    );
    let replace: Option<Vec<String>> = b.emails.as_ref().map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(i, e)| check_email(&mut checks, &format!("emails[{i}]"), e))
            .collect()
    });
    let add: Vec<String> = b
        .emails_add
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, e)| check_email(&mut checks, &format!("emails_add[{i}]"), e))
        .collect();
    checks.finish()?;
    run_tx(&state.pool, move |c| {
        // Fields left out keep their value; the model saves the whole record.
        let current = customer::profile(c, id)?.ok_or(ApiError::NotFound)?;
        let keep = |new: &Option<String>, old: String| {
            new.as_deref().map(|v| v.trim().to_string()).unwrap_or(old)
        };
        let mut emails = replace.clone().unwrap_or_else(|| current.emails.clone());
        if replace.is_none() {
            emails.extend(add.iter().filter(|e| !current.emails.contains(e)).cloned());
        }
        let changes = customer::CustomerChanges {
            first_name: keep(&b.first_name, current.first_name),
            last_name: keep(&b.last_name, current.last_name),
            company: keep(&b.company, current.company),
            job_title: keep(&b.job_title, current.job_title),
            notes: b.notes.clone().unwrap_or(current.notes),
            emails,
        };
        match customer::update(c, id, &changes) {
            Ok(()) => Ok(()),
            Err(customer::CustomerError::NotFound) => Err(ApiError::NotFound),
            Err(customer::CustomerError::EmailTaken(e)) => Err(ApiError::Conflict(format!(
                "{e} belongs to another customer"
            ))),
            Err(customer::CustomerError::Db(e)) => Err(e.into()),
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

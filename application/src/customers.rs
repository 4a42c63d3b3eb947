//! Customers: one person across channels. Linking a contact point to a
//! customer merges whoever that point belonged to into them (recorded on
//! both, the absorbed side first, so a crash between the two never loses
//! the merge and running the link again completes it); an unmerge is its
//! own command. Name and notes are edited on the customer that stands on
//! its own.

use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use domain::customer::{ContactPoint, Customer, CustomerCommand, CustomerError};
use domain::{EmailAddress, OrganisationId, Role};

use crate::CommandError;
use crate::error::StoreError;
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;
use crate::users::Acting;

/// Longest chain of merges followed to the customer that stands on its own.
const MAX_MERGE_DEPTH: usize = 64;

/// A customer as the read model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSummary {
    pub customer_id: Uuid,
    /// The customer it is part of now (its own id while on its own).
    pub canonical_id: Uuid,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
}

/// The customers read model, as the write side needs it.
#[async_trait]
pub trait CustomerDirectory: Send + Sync {
    async fn find(
        &self,
        organisation_id: OrganisationId,
        customer_id: Uuid,
    ) -> Result<Option<CustomerSummary>, StoreError>;
}

/// Why a customer could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum CustomersError {
    /// 404: no such customer in the organisation.
    #[error("no such customer")]
    NotFound,
    /// 409: the customer is part of another now; act on that one.
    #[error("the customer was merged into {0}; change that customer instead")]
    Merged(Uuid),
    /// 403: only managers and admins split customers.
    #[error("only managers and admins unmerge customers")]
    MayNotUnmerge,
    /// 422 on `value`: not an e-mail address or an E.164 number.
    #[error("{0}")]
    InvalidPoint(String),
    #[error(transparent)]
    Command(#[from] CommandError<CustomerError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    pub customer_id: Uuid,
    /// The customer merged into it, when the point belonged to another.
    pub merged: Option<Uuid>,
    /// Its contact points now.
    pub points: Vec<ContactPoint>,
}

/// A contact point as a caller gives it: `email` or `phone` and its value.
pub fn contact_point(kind: &str, value: &str) -> Result<ContactPoint, CustomersError> {
    match kind {
        "email" => EmailAddress::parse(value)
            .map(ContactPoint::Email)
            .map_err(|e| CustomersError::InvalidPoint(e.to_string())),
        _ => domain::integration::settings::phone_number("value", value)
            .map(ContactPoint::Phone)
            .map_err(|e| CustomersError::InvalidPoint(e.reason)),
    }
}

pub struct Customers<'a> {
    pub store: &'a dyn AggregateStore<Customer>,
    pub directory: &'a dyn CustomerDirectory,
}

impl Customers<'_> {
    /// Makes `point` one of the customer's; if it was another customer's,
    /// that customer (with all its points and threads) becomes part of this one.
    pub async fn link(
        &self,
        acting: &Acting,
        customer_id: Uuid,
        point: ContactPoint,
        meta: &EventMetadata,
    ) -> Result<Linked, CustomersError> {
        let organisation_id = acting.organisation_id;
        let target = self.standing(organisation_id, customer_id, meta).await?;
        let owner_id = point.customer_id(organisation_id);
        if owner_id != customer_id {
            self.ensure_recorded(organisation_id, &point, meta).await?;
            let owner = self.top_of(owner_id).await?;
            if owner != customer_id {
                self.merge(owner, customer_id, meta).await?;
                let points = self.loaded(customer_id).await?.contact_points();
                return Ok(Linked {
                    customer_id,
                    merged: Some(owner),
                    points,
                });
            }
        }
        Ok(Linked {
            customer_id,
            merged: None,
            points: target.contact_points(),
        })
    }

    /// The customer stands on its own again, with the points that were merged into it.
    pub async fn unmerge(
        &self,
        acting: &Acting,
        customer_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<(), CustomersError> {
        if acting.role == Role::Agent {
            return Err(CustomersError::MayNotUnmerge);
        }
        let customer = self.get(acting.organisation_id, customer_id).await?;
        let parent = customer.merged_into;
        let at = Utc::now();
        self.store
            .execute(&customer_id.to_string(), CustomerCommand::Unmerge { at }, meta)
            .await?;
        if let Some(parent) = parent {
            let release = CustomerCommand::Release {
                source: customer_id,
                at,
            };
            self.store.execute(&parent.to_string(), release, meta).await?;
        }
        Ok(())
    }

    /// Sets the name and notes (`None` leaves one as it is; an empty text clears it).
    pub async fn update(
        &self,
        acting: &Acting,
        customer_id: Uuid,
        name: Option<String>,
        notes: Option<String>,
        meta: &EventMetadata,
    ) -> Result<Customer, CustomersError> {
        let current = self.standing(acting.organisation_id, customer_id, meta).await?;
        let command = CustomerCommand::Update {
            name: name.or(current.name.clone()),
            notes: notes.or(current.notes.clone()),
            at: Utc::now(),
        };
        self.store.execute(&customer_id.to_string(), command, meta).await?;
        self.loaded(customer_id).await
    }

    /// The customer, recorded (a customer only seen on a call or message so
    /// far is recorded now), and standing on its own.
    async fn standing(
        &self,
        organisation_id: OrganisationId,
        customer_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<Customer, CustomersError> {
        let stored = self.store.load(&customer_id.to_string()).await?.map(|l| l.aggregate);
        let customer = match stored {
            Some(c) => c,
            None => {
                let seen = self
                    .directory
                    .find(organisation_id, customer_id)
                    .await?
                    .ok_or(CustomersError::NotFound)?;
                let point = seen_point(&seen).ok_or(CustomersError::NotFound)?;
                self.ensure_recorded(organisation_id, &point, meta).await?;
                self.loaded(customer_id).await?
            }
        };
        if customer.organisation_id != Some(organisation_id) {
            return Err(CustomersError::NotFound);
        }
        match customer.merged_into {
            Some(into) => Err(CustomersError::Merged(into)),
            None => Ok(customer),
        }
    }

    /// The customer as recorded, when it is the organisation's.
    pub async fn get(&self, organisation_id: OrganisationId, id: Uuid) -> Result<Customer, CustomersError> {
        let customer = self.loaded(id).await?;
        match customer.organisation_id == Some(organisation_id) {
            true => Ok(customer),
            false => Err(CustomersError::NotFound),
        }
    }

    async fn loaded(&self, id: Uuid) -> Result<Customer, CustomersError> {
        let loaded = self.store.load(&id.to_string()).await?;
        loaded.map(|l| l.aggregate).ok_or(CustomersError::NotFound)
    }

    /// Records the customer a point was first seen as, if not yet recorded.
    async fn ensure_recorded(
        &self,
        organisation_id: OrganisationId,
        point: &ContactPoint,
        meta: &EventMetadata,
    ) -> Result<(), CustomersError> {
        let customer_id = point.customer_id(organisation_id);
        let at = Utc::now();
        let command = match point {
            ContactPoint::Email(email) => CustomerCommand::Create {
                customer_id,
                organisation_id,
                email: email.clone(),
                name: None,
                at,
            },
            ContactPoint::Phone(phone) => CustomerCommand::CreateForPhone {
                customer_id,
                organisation_id,
                phone: phone.clone(),
                name: None,
                at,
            },
        };
        match self.store.execute(&customer_id.to_string(), command, meta).await {
            Ok(()) | Err(CommandError::Rejected(CustomerError::AlreadyExists)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The customer `id` is part of now, following its merges.
    async fn top_of(&self, id: Uuid) -> Result<Uuid, CustomersError> {
        let mut current = id;
        for _ in 0..MAX_MERGE_DEPTH {
            match self.loaded(current).await?.merged_into {
                Some(into) => current = into,
                None => return Ok(current),
            }
        }
        Ok(current)
    }

    /// `source` becomes part of `target`: recorded on `source` first.
    async fn merge(&self, source: Uuid, target: Uuid, meta: &EventMetadata) -> Result<(), CustomersError> {
        let at = Utc::now();
        let merge = CustomerCommand::MergeInto { into: target, at };
        self.store.execute(&source.to_string(), merge, meta).await?;
        let points = self.loaded(source).await?.contact_points();
        let absorb = CustomerCommand::Absorb { source, points, at };
        self.store.execute(&target.to_string(), absorb, meta).await?;
        Ok(())
    }
}

fn seen_point(seen: &CustomerSummary) -> Option<ContactPoint> {
    if let Some(email) = seen.email.as_deref().and_then(|e| EmailAddress::parse(e).ok()) {
        return Some(ContactPoint::Email(email));
    }
    seen.phone.clone().map(ContactPoint::Phone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Memory;

    struct NoCustomers;

    #[async_trait]
    impl CustomerDirectory for NoCustomers {
        async fn find(&self, _: OrganisationId, _: Uuid) -> Result<Option<CustomerSummary>, StoreError> {
            Ok(None)
        }
    }

    const ORG: Uuid = Uuid::from_u128(7);

    fn acting(role: Role) -> Acting {
        Acting {
            organisation_id: ORG,
            role,
            user_id: Some(Uuid::from_u128(70)),
        }
    }

    fn meta() -> EventMetadata {
        EventMetadata::system("test", Some(ORG))
    }

    fn email(address: &str) -> ContactPoint {
        ContactPoint::Email(EmailAddress::parse(address).unwrap())
    }

    fn phone(number: &str) -> ContactPoint {
        ContactPoint::Phone(number.to_string())
    }

    /// A store with the customer of `point` recorded; its id.
    async fn recorded(store: &Memory<Customer>, point: &ContactPoint) -> Uuid {
        let customers = Customers {
            store,
            directory: &NoCustomers,
        };
        customers.ensure_recorded(ORG, point, &meta()).await.unwrap();
        point.customer_id(ORG)
    }

    #[tokio::test]
    async fn linking_another_customers_point_merges_that_customer_in_and_linking_again_changes_nothing() {
        let store = Memory::<Customer>::new();
        let asha = recorded(&store, &email("asha@example.in")).await;
        let number = recorded(&store, &phone("+919812300001")).await;
        let customers = Customers {
            store: &store,
            directory: &NoCustomers,
        };
        let linked = customers
            .link(&acting(Role::Agent), asha, phone("+919812300001"), &meta())
            .await
            .unwrap();
        assert_eq!(linked.customer_id, asha);
        assert_eq!(linked.merged, Some(number));
        assert_eq!(linked.points, vec![email("asha@example.in"), phone("+919812300001")]);
        assert_eq!(customers.get(ORG, number).await.unwrap().merged_into, Some(asha));
        let again = customers
            .link(&acting(Role::Agent), asha, phone("+919812300001"), &meta())
            .await
            .unwrap();
        assert_eq!(again.merged, None, "linking again merges nothing");
        assert_eq!(again.points, linked.points);
    }

    #[tokio::test]
    async fn a_point_never_seen_is_recorded_as_its_own_customer_and_merged_in() {
        let store = Memory::<Customer>::new();
        let asha = recorded(&store, &email("asha@example.in")).await;
        let customers = Customers {
            store: &store,
            directory: &NoCustomers,
        };
        let linked = customers
            .link(&acting(Role::Agent), asha, phone("+919812300002"), &meta())
            .await
            .unwrap();
        let number = phone("+919812300002").customer_id(ORG);
        assert_eq!(linked.merged, Some(number));
        let absorbed = customers.get(ORG, number).await.unwrap();
        assert_eq!(absorbed.phone.as_deref(), Some("+919812300002"));
        assert_eq!(absorbed.merged_into, Some(asha));
    }

    #[tokio::test]
    async fn a_merged_customer_takes_no_link_and_says_which_customer_it_is_part_of() {
        let store = Memory::<Customer>::new();
        let asha = recorded(&store, &email("asha@example.in")).await;
        let number = recorded(&store, &phone("+919812300003")).await;
        let customers = Customers {
            store: &store,
            directory: &NoCustomers,
        };
        customers
            .link(&acting(Role::Admin), asha, phone("+919812300003"), &meta())
            .await
            .unwrap();
        let refused = customers
            .link(&acting(Role::Admin), number, email("other@example.in"), &meta())
            .await
            .unwrap_err();
        assert!(
            matches!(refused, CustomersError::Merged(into) if into == asha),
            "{refused:?}"
        );
        let unknown = customers.get(ORG, Uuid::from_u128(99)).await.unwrap_err();
        assert!(matches!(unknown, CustomersError::NotFound), "{unknown:?}");
        let other_org = customers.get(Uuid::from_u128(8), asha).await.unwrap_err();
        assert!(matches!(other_org, CustomersError::NotFound), "{other_org:?}");
    }

    #[tokio::test]
    async fn only_managers_and_admins_unmerge_and_the_point_goes_back_to_its_own_customer() {
        let store = Memory::<Customer>::new();
        let asha = recorded(&store, &email("asha@example.in")).await;
        let number = recorded(&store, &phone("+919812300004")).await;
        let customers = Customers {
            store: &store,
            directory: &NoCustomers,
        };
        customers
            .link(&acting(Role::Agent), asha, phone("+919812300004"), &meta())
            .await
            .unwrap();
        let refused = customers
            .unmerge(&acting(Role::Agent), number, &meta())
            .await
            .unwrap_err();
        assert!(matches!(refused, CustomersError::MayNotUnmerge), "{refused:?}");
        customers
            .unmerge(&acting(Role::Manager), number, &meta())
            .await
            .unwrap();
        assert_eq!(customers.get(ORG, number).await.unwrap().merged_into, None);
        let parent = customers.get(ORG, asha).await.unwrap();
        assert_eq!(parent.contact_points(), vec![email("asha@example.in")]);
        assert!(parent.absorbed.is_empty());
    }

    #[tokio::test]
    async fn an_update_keeps_what_it_leaves_out_and_clears_what_it_empties() {
        let store = Memory::<Customer>::new();
        let asha = recorded(&store, &email("asha@example.in")).await;
        let customers = Customers {
            store: &store,
            directory: &NoCustomers,
        };
        let named = customers
            .update(
                &acting(Role::Agent),
                asha,
                Some("Asha Rao".into()),
                Some("Prefers calls".into()),
                &meta(),
            )
            .await
            .unwrap();
        assert_eq!(
            (named.name.as_deref(), named.notes.as_deref()),
            (Some("Asha Rao"), Some("Prefers calls"))
        );
        let renamed = customers
            .update(&acting(Role::Agent), asha, Some("Asha R.".into()), None, &meta())
            .await
            .unwrap();
        assert_eq!(
            (renamed.name.as_deref(), renamed.notes.as_deref()),
            (Some("Asha R."), Some("Prefers calls"))
        );
        let cleared = customers
            .update(&acting(Role::Agent), asha, None, Some(String::new()), &meta())
            .await
            .unwrap();
        assert_eq!((cleared.name.as_deref(), cleared.notes), (Some("Asha R."), None));
    }

    /// A read model that has seen one customer only on a message.
    struct SeenOnce(CustomerSummary);

    #[async_trait]
    impl CustomerDirectory for SeenOnce {
        async fn find(&self, _: OrganisationId, id: Uuid) -> Result<Option<CustomerSummary>, StoreError> {
            Ok((id == self.0.customer_id).then(|| self.0.clone()))
        }
    }

    #[tokio::test]
    async fn a_customer_seen_only_on_a_message_is_recorded_when_first_edited() {
        let store = Memory::<Customer>::new();
        let number = phone("+919812300006").customer_id(ORG);
        let seen = SeenOnce(CustomerSummary {
            customer_id: number,
            canonical_id: number,
            email: None,
            phone: Some("+919812300006".into()),
            name: None,
        });
        let customers = Customers {
            store: &store,
            directory: &seen,
        };
        let named = customers
            .update(&acting(Role::Agent), number, Some("Ravi".into()), None, &meta())
            .await
            .unwrap();
        assert_eq!(named.phone.as_deref(), Some("+919812300006"));
        assert_eq!(named.name.as_deref(), Some("Ravi"));
        assert_eq!(named.contact_points(), vec![phone("+919812300006")]);
        let never = customers
            .update(&acting(Role::Agent), Uuid::from_u128(5), None, None, &meta())
            .await
            .unwrap_err();
        assert!(matches!(never, CustomersError::NotFound), "{never:?}");
    }

    #[test]
    fn a_contact_point_is_an_address_or_a_number_by_its_kind() {
        assert_eq!(
            contact_point("email", "asha@example.in").unwrap(),
            email("asha@example.in")
        );
        assert_eq!(contact_point("phone", "+919812300005").unwrap(), phone("+919812300005"));
        assert!(matches!(
            contact_point("email", "not an address"),
            Err(CustomersError::InvalidPoint(_))
        ));
        assert!(matches!(
            contact_point("phone", "12"),
            Err(CustomersError::InvalidPoint(_))
        ));
    }
}

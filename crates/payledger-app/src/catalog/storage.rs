//! Generic storage of catalog records: key layout, reads by id or key,
//! the writes of a record and its key index, and the generic get, list
//! and delete.

use super::*;

/// What every catalog record offers to the generic store code.
pub trait CatalogRecord: Serialize + DeserializeOwned + Clone + Send + 'static {
    const KIND: CatalogKind;
    fn id(&self) -> &str;
    fn key(&self) -> &str;
    fn version(&self) -> u64;
    fn created_at(&self) -> &str;
}

impl CatalogRecord for TypeRecord {
    const KIND: CatalogKind = CatalogKind::Type;
    fn id(&self) -> &str {
        &self.id
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn created_at(&self) -> &str {
        &self.created_at
    }
}

impl CatalogRecord for StateRecord {
    const KIND: CatalogKind = CatalogKind::State;
    fn id(&self) -> &str {
        &self.id
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn created_at(&self) -> &str {
        &self.created_at
    }
}

/// The key component of a kind's records.
const fn record_tag(kind: CatalogKind) -> &'static str {
    match kind {
        CatalogKind::Type => "type",
        CatalogKind::State => "state",
    }
}

/// The key component of a kind's key index.
const fn key_tag(kind: CatalogKind) -> &'static str {
    match kind {
        CatalogKind::Type => "type-key",
        CatalogKind::State => "state-key",
    }
}

/// The key prefix of every record of a kind in a project.
pub fn records_prefix(project: &ProjectKey, kind: CatalogKind) -> Vec<u8> {
    let mut key = project_prefix(project);
    push_text(&mut key, record_tag(kind));
    key
}

/// The key of one record.
pub fn record_key(project: &ProjectKey, kind: CatalogKind, id: &str) -> Vec<u8> {
    let mut key = records_prefix(project, kind);
    push_text(&mut key, id);
    key
}

/// The key prefix of a kind's key index in a project.
pub fn key_index_prefix(project: &ProjectKey, kind: CatalogKind) -> Vec<u8> {
    let mut key = project_prefix(project);
    push_text(&mut key, key_tag(kind));
    key
}

/// The key index entry of one key.
pub fn key_index_key(project: &ProjectKey, kind: CatalogKind, resource_key: &str) -> Vec<u8> {
    let mut key = key_index_prefix(project, kind);
    push_text(&mut key, resource_key);
    key
}

pub(super) fn corrupt(kind: CatalogKind, what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("catalog {kind}: {what}"))
}

pub(super) fn encode<R: CatalogRecord>(record: &R) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| corrupt(R::KIND, e))
}

/// Reads a record by id; checks it is the record the key names.
pub(super) fn read_by_id<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    id: &str,
) -> Result<Option<R>, StoreError> {
    if id.is_empty() || id.len() > KEY_BYTES_MAX {
        return Ok(None); // Such an id is never assigned.
    }
    let Some(bytes) = store.get(Table::Catalog, &record_key(project, R::KIND, id))? else {
        return Ok(None);
    };
    let record: R = serde_json::from_slice(&bytes).map_err(|e| corrupt(R::KIND, e))?;
    if record.id() != id {
        return Err(corrupt(
            R::KIND,
            format!("record {id} names id {}", record.id()),
        ));
    }
    Ok(Some(record))
}

/// Reads the id the key index holds for `resource_key`.
pub(super) fn id_by_key(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    kind: CatalogKind,
    resource_key: &str,
) -> Result<Option<String>, StoreError> {
    if resource_key.is_empty() || resource_key.len() > KEY_BYTES_MAX {
        return Ok(None); // Such a key is never stored.
    }
    match store.get(Table::Catalog, &key_index_key(project, kind, resource_key))? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| corrupt(kind, e)),
    }
}

/// Reads a record by id or key.
pub(super) fn read<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
) -> Result<Option<R>, StoreError> {
    match by {
        ResourceRef::Id(id) => read_by_id(store, project, id),
        ResourceRef::Key(key) => {
            let Some(id) = id_by_key(store, project, R::KIND, key)? else {
                return Ok(None);
            };
            let record: Option<R> = read_by_id(store, project, &id)?;
            match record {
                Some(record) if record.key() != key => Err(corrupt(
                    R::KIND,
                    format!("key index {key} points at {id} with key {}", record.key()),
                )),
                // A missing record behind an index entry is corruption too.
                None => Err(corrupt(R::KIND, format!("key index {key} points at {id}"))),
                found => Ok(found),
            }
        }
    }
}

/// The writes that store `record` and move its key index entry from
/// `previous_key` (if any and different).
pub(super) fn put_writes<R: CatalogRecord>(
    project: &ProjectKey,
    record: &R,
    previous_key: Option<&str>,
) -> Result<Vec<KvWrite>, StoreError> {
    let mut writes = vec![KvWrite {
        table: Table::Catalog,
        key: record_key(project, R::KIND, record.id()),
        value: Some(encode(record)?),
    }];
    if previous_key != Some(record.key()) {
        if let Some(previous) = previous_key {
            writes.push(KvWrite {
                table: Table::Catalog,
                key: key_index_key(project, R::KIND, previous),
                value: None,
            });
        }
        writes.push(KvWrite {
            table: Table::Catalog,
            key: key_index_key(project, R::KIND, record.key()),
            value: Some(record.id().as_bytes().to_vec()),
        });
    }
    Ok(writes)
}

/// Fails when another resource of the kind holds `resource_key`.
pub(super) fn check_key_free(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    kind: CatalogKind,
    resource_key: &str,
    own_id: Option<&str>,
) -> Result<(), CatalogError> {
    match id_by_key(store, project, kind, resource_key)? {
        Some(holder) if Some(holder.as_str()) != own_id => Err(CatalogRejection::DuplicateKey {
            key: resource_key.to_owned(),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Fails when the project already holds the most resources of the kind.
pub(super) fn check_room(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    kind: CatalogKind,
) -> Result<(), CatalogError> {
    let from = key_index_prefix(project, kind);
    let held = store
        .scan(
            Table::Catalog,
            &from,
            &prefix_end(&from),
            RESOURCES_PER_KIND_MAX,
        )?
        .len();
    Ok(rules::check_room(kind, held)?)
}

/// Loads the record a write targets and checks its version.
pub(super) fn current<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
) -> Result<R, CatalogError> {
    let record: R = read(store, project, by)?.ok_or(CatalogError::NotFound(R::KIND))?;
    if record.version() != version {
        return Err(CatalogError::Conflict {
            id: record.id().to_owned(),
            expected: version,
            current_version: record.version(),
        });
    }
    Ok(record)
}

/// Reads a Type or State by id or key.
#[tracing::instrument(skip_all, fields(project = %project, kind = %R::KIND))]
pub fn get<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
) -> Result<R, CatalogError> {
    read(store, project, by)?.ok_or(CatalogError::NotFound(R::KIND))
}

/// Every Type or State of a project (at most [`RESOURCES_PER_KIND_MAX`]),
/// oldest first.
#[tracing::instrument(skip_all, fields(project = %project, kind = %R::KIND))]
pub fn list<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
) -> Result<Vec<R>, CatalogError> {
    let from = records_prefix(project, R::KIND);
    let rows = store.scan(
        Table::Catalog,
        &from,
        &prefix_end(&from),
        RESOURCES_PER_KIND_MAX,
    )?;
    let mut records = rows
        .iter()
        .map(|(_, value)| serde_json::from_slice::<R>(value).map_err(|e| corrupt(R::KIND, e)))
        .collect::<Result<Vec<R>, StoreError>>()?;
    // Timestamps have a fixed width, so text order is time order.
    records.sort_by(|a, b| {
        a.created_at()
            .cmp(b.created_at())
            .then_with(|| a.id().cmp(b.id()))
    });
    Ok(records)
}

/// Deletes a Type or State at `version`; returns the deleted record (and
/// records `answer` for it in the same write).
#[tracing::instrument(skip_all, fields(project = %project, kind = %R::KIND, version))]
pub fn delete<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
    answer: Option<&Answer>,
) -> Result<R, CatalogError> {
    let _writes = crate::resource_writes::lock();
    let record: R = current(store, project, by, version)?;
    let writes = vec![
        KvWrite {
            table: Table::Catalog,
            key: record_key(project, R::KIND, record.id()),
            value: None,
        },
        KvWrite {
            table: Table::Catalog,
            key: key_index_key(project, R::KIND, record.key()),
            value: None,
        },
    ];
    idempotency::write_answered(store, answer, &record, writes)?;
    Ok(record)
}

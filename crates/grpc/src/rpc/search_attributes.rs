//! OperatorService: a namespace's custom search attributes.

use std::collections::{BTreeMap, HashMap};

use keel_core::search::{BUILT_IN, SETTABLE_SYSTEM, SearchAttributeType};
use temporalio_protos::temporal::api::operatorservice::v1 as os;

use super::prelude::*;

pub(crate) async fn add_search_attributes(
    frontend: &Frontend,
    request: Request<os::AddSearchAttributesRequest>,
) -> Reply<os::AddSearchAttributesResponse> {
    let r = request.into_inner();
    let mut attributes = BTreeMap::new();
    for (name, kind) in &r.search_attributes {
        let kind = enums::IndexedValueType::try_from(*kind)
            .ok()
            .and_then(|kind| SearchAttributeType::from_name(indexed_type_name(kind)))
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "search attribute {name} needs a type: Text, Keyword, Int, Double, Bool, Datetime or KeywordList"
                ))
            })?;
        attributes.insert(name.clone(), kind);
    }
    if attributes.is_empty() {
        return Err(Status::invalid_argument(
            "no search attributes to add were given",
        ));
    }
    engine_result(
        frontend
            .engine
            .add_search_attributes(&namespace_or_default(&r.namespace), attributes)
            .await,
    )?;
    Ok(Response::new(os::AddSearchAttributesResponse {}))
}

pub(crate) async fn remove_search_attributes(
    frontend: &Frontend,
    request: Request<os::RemoveSearchAttributesRequest>,
) -> Reply<os::RemoveSearchAttributesResponse> {
    let r = request.into_inner();
    engine_result(
        frontend
            .engine
            .remove_search_attributes(&namespace_or_default(&r.namespace), &r.search_attributes)
            .await,
    )?;
    Ok(Response::new(os::RemoveSearchAttributesResponse {}))
}

pub(crate) async fn list_search_attributes(
    frontend: &Frontend,
    request: Request<os::ListSearchAttributesRequest>,
) -> Reply<os::ListSearchAttributesResponse> {
    let r = request.into_inner();
    let namespace = engine_result(
        frontend
            .engine
            .namespace(&namespace_or_default(&r.namespace)),
    )?;
    let typed = |kind: SearchAttributeType| indexed_type(kind) as i32;
    let custom_attributes = namespace
        .search_attributes
        .iter()
        .map(|(name, kind)| (name.clone(), typed(*kind)))
        .collect();
    let system_attributes: HashMap<String, i32> = BUILT_IN
        .iter()
        .chain(SETTABLE_SYSTEM.iter())
        .map(|(name, kind)| ((*name).to_owned(), typed(*kind)))
        .collect();
    Ok(Response::new(os::ListSearchAttributesResponse {
        custom_attributes,
        system_attributes,
        storage_schema: HashMap::new(),
    }))
}

/// WorkflowService's GetSearchAttributes names no namespace: the system attributes and the
/// default namespace's own, with their types.
pub(crate) async fn get_search_attributes(
    frontend: &Frontend,
    _request: Request<ws::GetSearchAttributesRequest>,
) -> Reply<ws::GetSearchAttributesResponse> {
    let listed = list_search_attributes(
        frontend,
        Request::new(os::ListSearchAttributesRequest {
            namespace: String::new(),
        }),
    )
    .await?
    .into_inner();
    let mut keys = listed.system_attributes;
    keys.extend(listed.custom_attributes);
    Ok(Response::new(ws::GetSearchAttributesResponse { keys }))
}

/// Temporal's CLI leaves the namespace empty to mean `default`.
fn namespace_or_default(namespace: &str) -> String {
    if namespace.is_empty() {
        keel_core::namespace::DEFAULT_NAMESPACE.to_owned()
    } else {
        namespace.to_owned()
    }
}

fn indexed_type_name(kind: enums::IndexedValueType) -> &'static str {
    use enums::IndexedValueType as I;
    match kind {
        I::Text => "Text",
        I::Keyword => "Keyword",
        I::Int => "Int",
        I::Double => "Double",
        I::Bool => "Bool",
        I::Datetime => "Datetime",
        I::KeywordList => "KeywordList",
        I::Unspecified => "",
    }
}

fn indexed_type(kind: SearchAttributeType) -> enums::IndexedValueType {
    use enums::IndexedValueType as I;
    match kind {
        SearchAttributeType::Text => I::Text,
        SearchAttributeType::Keyword => I::Keyword,
        SearchAttributeType::Int => I::Int,
        SearchAttributeType::Double => I::Double,
        SearchAttributeType::Bool => I::Bool,
        SearchAttributeType::Datetime => I::Datetime,
        SearchAttributeType::KeywordList => I::KeywordList,
    }
}

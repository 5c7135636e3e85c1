//! Stored flows: their revisions, kept for the flow frontends (REST, CLI, the server's
//! flow worker). The engine stores flow documents as text; reading and checking them is
//! `keel-flows`'s, above it.

use keel_store::FlowRevision;

use crate::{Engine, Result};

impl Engine {
    /// Saves a flow document as the flow's next revision unless it is unchanged; answers
    /// the latest revision and whether it is new.
    pub async fn save_flow(
        &self,
        namespace: &str,
        flow_id: &str,
        source: &str,
    ) -> Result<(FlowRevision, bool)> {
        self.namespace(namespace)?;
        Ok(self
            .inner
            .store
            .save_flow(namespace, flow_id, source, self.now())
            .await?)
    }

    /// A flow's revision, or its latest (`None`); NotFound when there is none.
    pub async fn flow_revision(
        &self,
        namespace: &str,
        flow_id: &str,
        revision: Option<i64>,
    ) -> Result<FlowRevision> {
        self.namespace(namespace)?;
        self.inner
            .store
            .flow_revision(namespace, flow_id, revision)
            .await?
            .ok_or_else(|| match revision {
                None => keel_store::flow_not_found(namespace, flow_id).into(),
                Some(revision) => crate::Error::NotFound(format!(
                    "flow '{flow_id}' has no revision {revision} in namespace '{namespace}'"
                )),
            })
    }

    /// Every revision of a flow, oldest first; NotFound when it has none.
    pub async fn flow_revisions(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Vec<FlowRevision>> {
        self.namespace(namespace)?;
        let revisions = self.inner.store.flow_revisions(namespace, flow_id).await?;
        if revisions.is_empty() {
            return Err(keel_store::flow_not_found(namespace, flow_id).into());
        }
        Ok(revisions)
    }

    /// The latest revision of each of a namespace's flows.
    pub async fn flows(&self, namespace: &str) -> Result<Vec<FlowRevision>> {
        self.namespace(namespace)?;
        Ok(self.inner.store.flows(Some(namespace)).await?)
    }

    pub async fn delete_flow(&self, namespace: &str, flow_id: &str) -> Result<()> {
        self.namespace(namespace)?;
        Ok(self.inner.store.delete_flow(namespace, flow_id).await?)
    }
}

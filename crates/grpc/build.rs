//! Generates tonic server traits for Temporal's WorkflowService and OperatorService from the
//! descriptor set that `temporalio-protos` exports, so no .proto file lives in this repo.

use std::path::PathBuf;

use prost::Message;

const SERVICES: [&str; 2] = [
    "temporal/api/workflowservice/v1/service.proto",
    "temporal/api/operatorservice/v1/service.proto",
];

fn main() {
    const VAR: &str = "DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH";
    println!("cargo:rerun-if-env-changed={VAR}");
    println!("cargo:rerun-if-changed=build.rs");
    let path = PathBuf::from(
        std::env::var(VAR).unwrap_or_else(|_| panic!("{VAR} is not set by temporalio-protos")),
    );
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|err| panic!("cannot read descriptor set {}: {err}", path.display()));
    let mut set = prost_types::FileDescriptorSet::decode(bytes.as_slice())
        .expect("temporalio-protos descriptor set does not decode");
    set.file
        .retain(|file| SERVICES.contains(&file.name.as_deref().unwrap_or_default()));
    for service in SERVICES {
        assert!(
            set.file
                .iter()
                .any(|file| file.name.as_deref() == Some(service)),
            "descriptor set lacks {service}"
        );
    }
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(false)
        .generate_default_stubs(true)
        .extern_path(".temporal", "::temporalio_protos::temporal")
        .compile_fds(set)
        .expect("generating Temporal service stubs");
}

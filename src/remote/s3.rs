//! An S3-compatible remote (`s3://bucket/prefix`) through the `object_store` crate. Credentials
//! and region come from the standard AWS environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
//! `AWS_ENDPOINT_URL` for other S3-compatible servers), else from the profile files
//! (`~/.aws/credentials` and `~/.aws/config`, profile `AWS_PROFILE` or `default`); sapipe
//! never stores them. An S3 object appears whole or not at all (a single PUT, or a multipart
//! upload completed at the end), so an interrupted push leaves nothing half-written, and two
//! pushes of the same content-addressed entry leave one whole copy.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::{Backend, RemoteError, transfer};

/// Files up to this size go up in one PUT; larger ones as a multipart upload.
const SINGLE_PUT: u64 = 8 << 20;

pub struct S3Remote {
    url: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

/// `(access key, secret, session token, region)` of a profile in `~/.aws/credentials` and
/// `~/.aws/config`, where the environment gives none.
fn profile_credentials(profile: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let home = std::env::var_os("HOME")?;
    let aws = Path::new(&home).join(".aws");
    let section = |file: &str, header: &str| -> Vec<(String, String)> {
        let text = std::fs::read_to_string(aws.join(file)).unwrap_or_default();
        let mut inside = false;
        let mut out = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                inside = line.trim_matches(['[', ']']).trim() == header;
            } else if inside && let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        out
    };
    let creds = section("credentials", profile);
    let config_header = if profile == "default" {
        "default".to_string()
    } else {
        format!("profile {profile}")
    };
    let config = section("config", &config_header);
    let get = |pairs: &[(String, String)], k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    Some((
        get(&creds, "aws_access_key_id")?,
        get(&creds, "aws_secret_access_key")?,
        get(&creds, "aws_session_token"),
        get(&config, "region"),
    ))
}

impl S3Remote {
    pub fn open(url: &str, origin: &str) -> Result<Self, RemoteError> {
        let config = |why: String| RemoteError::Config(format!("{origin}: remote {url}: {why}"));
        // TLS through rustls on ring (see Cargo.toml); installed once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
            if let Some((key, secret, token, region)) = profile_credentials(&profile) {
                builder = builder
                    .with_access_key_id(key)
                    .with_secret_access_key(secret);
                if let Some(t) = token {
                    builder = builder.with_token(t);
                }
                if let Some(r) = region {
                    builder = builder.with_region(r);
                }
            }
        }
        if std::env::var_os("AWS_REGION").is_none()
            && let Ok(r) = std::env::var("AWS_DEFAULT_REGION")
        {
            builder = builder.with_region(r);
        }
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        let store = builder.build().map_err(|e| {
            config(format!(
                "{e} (credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or \
                 ~/.aws/credentials)"
            ))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| config(format!("cannot start the S3 client: {e}")))?;
        Ok(Self {
            url: url.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            store: Arc::new(store),
            runtime,
        })
    }

    fn key(&self, path: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(path)
        } else {
            ObjectPath::from(format!("{}/{path}", self.prefix))
        }
    }

    fn fail(&self, path: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Io {
            remote: self.url.clone(),
            path: path.to_string(),
            cause: std::io::Error::other(e.to_string()),
        }
    }

    async fn upload(&self, path: &str, from: &Path, moved: &dyn Fn(u64)) -> Result<(), String> {
        let key = self.key(path);
        let mut file = std::fs::File::open(from).map_err(|e| e.to_string())?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        if size <= SINGLE_PUT {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            self.store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(|e| e.to_string())?;
            moved(size);
            // A single PUT is whole or absent; the test hook holds the push after it, with
            // more objects and the record still to go.
            transfer::after_chunk(0, size);
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(&key)
            .await
            .map_err(|e| e.to_string())?;
        let mut writer = WriteMultipart::new(upload);
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.to_string());
                }
            };
            writer
                .wait_for_capacity(4)
                .await
                .map_err(|e| e.to_string())?;
            writer.write(&buf[..n]);
            total += n as u64;
            moved(n as u64);
            transfer::after_chunk(total - n as u64, total);
        }
        writer.finish().await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl Backend for S3Remote {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn stat(&self, path: &str) -> Result<Option<u64>, RemoteError> {
        match self.runtime.block_on(self.store.head(&self.key(path))) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(self.fail(path, e)),
        }
    }

    fn read_to(
        &self,
        path: &str,
        to: &mut dyn Write,
        moved: &dyn Fn(u64),
    ) -> Result<bool, RemoteError> {
        self.runtime.block_on(async {
            let result = match self.store.get(&self.key(path)).await {
                Ok(r) => r,
                Err(e) if not_found(&e) => return Ok(false),
                Err(e) => return Err(self.fail(path, e)),
            };
            let mut stream = result.into_stream();
            let mut total = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.fail(path, e))?;
                to.write_all(&chunk).map_err(|e| self.fail(path, e))?;
                total += chunk.len() as u64;
                moved(chunk.len() as u64);
                transfer::after_chunk(total - chunk.len() as u64, total);
            }
            Ok(true)
        })
    }

    fn write_from(&self, path: &str, from: &Path, moved: &dyn Fn(u64)) -> Result<(), RemoteError> {
        self.runtime
            .block_on(self.upload(path, from, moved))
            .map_err(|e| self.fail(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sit_under_the_prefix() {
        let r = S3Remote::open("s3://bucket/some/prefix/", "test").unwrap();
        assert_eq!(r.key("objects/ab/cd").as_ref(), "some/prefix/objects/ab/cd");
        let r = S3Remote::open("s3://bucket", "test").unwrap();
        assert_eq!(r.key("records/ab/cd.json").as_ref(), "records/ab/cd.json");
    }
}

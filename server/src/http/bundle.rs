//! The browser app's bundle (`site/pkg/`: scripts, WebAssembly chunks,
//! styles) under a path that names its contents, `/build/<id>/pkg/`, so a
//! browser may keep every file for a year without asking again: a new
//! build has a new id, and pages link the new path.
//!
//! The split chunks keep the same names from build to build and load one
//! another by relative paths, so renaming each file by its hash would not
//! do; one id for the whole bundle, in the directory above them, covers
//! them all. The id is a hash of every file's name and contents, so nodes
//! serving the same build agree on it whichever of them the gateway picks.
//! A path with another id (a page of an older build) is a 404 rather than
//! a newer file cached for a year under the old name.

use axum::Router;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;

/// The bundle a node serves.
#[derive(Clone, Debug)]
pub struct Bundle {
    id: String,
    dir: PathBuf,
}

/// Where the bundle's paths begin.
pub const BUILD_PATHS: &str = "/build/";

impl Bundle {
    /// The bundle in `site_root`'s `pkg` directory. A site with no bundle
    /// (a node run without the built app) has an id all the same.
    pub fn read(site_root: &str) -> Bundle {
        let dir = Path::new(site_root).join("pkg");
        let mut files = Vec::new();
        list_files(&dir, &mut files);
        files.sort();
        let mut hash = Sha256::new();
        for file in &files {
            let name = file.strip_prefix(&dir).unwrap_or(file);
            hash.update(name.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(std::fs::read(file).unwrap_or_default());
            hash.update([0]);
        }
        let id = crate::runtime::signer::to_hex(&hash.finalize()[..8]);
        Bundle { id, dir }
    }

    /// The path the bundle's `pkg/` directory sits under: what pages put
    /// before `/pkg/moviebook.js`.
    pub fn root(&self) -> String {
        format!("{BUILD_PATHS}{}", self.id)
    }

    /// Serves the bundle's files at `root()/pkg/`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new().nest_service(&format!("{}/pkg", self.root()), ServeDir::new(&self.dir))
    }
}

fn list_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let site = tempfile::tempdir().unwrap();
        for (name, contents) in files {
            let path = site.path().join("pkg").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        site
    }

    fn root_of(site: &tempfile::TempDir) -> String {
        Bundle::read(site.path().to_str().unwrap()).root()
    }

    #[test]
    fn the_same_files_give_the_same_root_and_any_change_a_new_one() {
        let files = [("moviebook.js", "js"), ("snippets/a.js", "a")];
        let root = root_of(&site_with(&files));
        assert!(root.starts_with("/build/") && root.len() == "/build/".len() + 16);
        assert_eq!(root_of(&site_with(&files)), root);
        let changed = [("moviebook.js", "js2"), ("snippets/a.js", "a")];
        assert_ne!(root_of(&site_with(&changed)), root);
        let renamed = [("moviebook.js", "js"), ("snippets/b.js", "a")];
        assert_ne!(root_of(&site_with(&renamed)), root);
    }
}

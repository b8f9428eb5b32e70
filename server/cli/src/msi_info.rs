//! What an MSI says about itself: the Property table's ProductCode,
//! ProductName, ProductVersion and Manufacturer.
//!
//! `packages publish app.msi` reads them so that the uninstall command
//! names the product (`msiexec /x {ProductCode}`, which needs no copy of
//! the file) and the install's check looks for the name and version
//! Windows will list under the Uninstall key, without the operator
//! copying them out of Orca.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// An MSI's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MsiProduct {
    /// `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`.
    pub(crate) product_code: String,
    /// The name Windows lists (DisplayName).
    pub(crate) name: String,
    /// The version Windows lists (DisplayVersion).
    pub(crate) version: String,
    /// The publisher, if the package names one.
    pub(crate) manufacturer: Option<String>,
}

/// Reads `path`'s Property table. A file that is not an MSI, or one
/// without the properties every installable MSI has, is an error naming
/// what is missing.
pub(crate) fn read(path: &Path) -> Result<MsiProduct> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // The parser is a third party's and the file is anyone's: a panic on
    // a malformed file becomes an error like any other.
    let props = std::panic::catch_unwind(move || properties(file))
        .map_err(|_| anyhow::anyhow!("the MSI reader failed on this file"))
        .and_then(|r| r)
        .with_context(|| format!("{} is not a readable MSI", path.display()))?;
    let get = |key: &str| props.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let need =
        |key: &str| get(key).with_context(|| format!("{} has no {key} property", path.display()));
    let product_code = need("ProductCode")?;
    if !is_guid(&product_code) {
        bail!(
            "{}'s ProductCode `{}` is not a {{GUID}}",
            path.display(),
            product_code.escape_debug()
        );
    }
    Ok(MsiProduct {
        product_code,
        name: need("ProductName")?,
        version: need("ProductVersion")?,
        manufacturer: get("Manufacturer"),
    })
}

/// A warning if a package of another version was published for the same
/// ProductCode (its uninstall names it): msiexec refuses to install one
/// version over another with the same code (1638) unless the job passes
/// REINSTALL=ALL REINSTALLMODE=vomus, a minor upgrade.
pub(crate) fn same_product_code(
    published: &[deskhand_api_types::jobs::ItemView],
    product: &MsiProduct,
) -> Option<String> {
    let other = published.iter().find(|item| {
        item.format.as_deref() == Some("msi")
            && item.version != product.version
            && item.uninstall.iter().any(|w| w == &product.product_code)
    })?;
    Some(format!(
        "{} {} was published with the same ProductCode {}: Windows will not install {} over it (msiexec exit 1638) unless run as a minor upgrade (REINSTALL=ALL REINSTALLMODE=vomus); build a major upgrade with a new ProductCode instead",
        other.name, other.version, product.product_code, product.version
    ))
}

fn properties(file: std::fs::File) -> Result<Vec<(String, String)>> {
    let mut package = msi::Package::open(file)?;
    if !package.has_table("Property") {
        bail!("it has no Property table");
    }
    let rows = package.select_rows(msi::Select::table("Property"))?;
    Ok(rows
        .filter_map(|row| {
            let key = row["Property"].as_str()?.to_string();
            let value = row["Value"].as_str()?.to_string();
            Some((key, value))
        })
        .collect())
}

/// `{8-4-4-4-12}` hex digits, as msiexec takes a product code.
fn is_guid(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
        return false;
    };
    let groups: Vec<&str> = inner.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_codes_are_braced_guids() {
        assert!(is_guid("{6F1B4D2E-8C3A-4B5F-9E21-0A7C3D9B1E42}"));
        assert!(!is_guid("6F1B4D2E-8C3A-4B5F-9E21-0A7C3D9B1E42"));
        assert!(!is_guid("{6F1B4D2E-8C3A-4B5F-9E21-0A7C3D9B1E4}"));
        assert!(!is_guid("{6F1B4D2E-8C3A-4B5F-9E21-0A7C3D9B1E4Z}"));
        assert!(!is_guid("{x & calc}"));
    }

    #[test]
    fn a_new_version_with_an_old_product_code_is_warned_about() {
        let code = "{6F1B4D2E-8C3A-4B5F-9E21-0A7C3D9B1E42}";
        let item =
            |version: &str, format: &str, uninstall: &[&str]| deskhand_api_types::jobs::ItemView {
                kind: "package".into(),
                name: "app".into(),
                version: version.into(),
                format: Some(format.into()),
                sha256: None,
                size: None,
                install: Vec::new(),
                uninstall: uninstall.iter().map(|w| (*w).to_string()).collect(),
                params: Vec::new(),
                workdir: None,
                publisher: "k".into(),
                published_at: String::new(),
                published_by: String::new(),
            };
        let product = MsiProduct {
            product_code: code.into(),
            name: "App".into(),
            version: "1.2.4".into(),
            manufacturer: None,
        };
        let old = item("1.2.3", "msi", &["msiexec", "/x", code, "/qn"]);
        let warning = same_product_code(std::slice::from_ref(&old), &product).expect("warned");
        assert!(
            warning.contains("app 1.2.3") && warning.contains("1638"),
            "{warning}"
        );
        // The same version again, another code, or not an MSI: nothing.
        let same = item("1.2.4", "msi", &["msiexec", "/x", code]);
        let other = item(
            "1.2.3",
            "msi",
            &["msiexec", "/x", "{00000000-0000-0000-0000-000000000000}"],
        );
        let exe = item("1.2.3", "exe", &[code]);
        assert_eq!(same_product_code(&[same, other, exe], &product), None);
    }

    #[test]
    fn a_file_that_is_not_an_msi_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, bytes) in [
            ("empty.msi", Vec::new()),
            ("text.msi", b"this is not a compound file".to_vec()),
            // A compound-file signature followed by garbage.
            ("torn.msi", {
                let mut v = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
                v.extend(std::iter::repeat_n(0xAB, 4096));
                v
            }),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            let err = format!("{:#}", read(&path).expect_err(name));
            assert!(err.contains("is not a readable MSI"), "{name}: {err}");
        }
    }
}

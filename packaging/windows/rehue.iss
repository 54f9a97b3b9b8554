; Inno Setup script for Windows. Build the bundle first on Windows:
;   py -m pip install .[package]  &&  pyinstaller packaging\rehue.spec
; then compile this script with Inno Setup 6 (iscc packaging\windows\rehue.iss).
#define AppVersion "0.1.0"
[Setup]
AppId={{6F1E2B9A-5C8D-4E1F-9A7B-2C3D4E5F6A7B}
AppName=Rehue
AppVersion={#AppVersion}
AppPublisher=Rehue
DefaultDirName={autopf}\Rehue
DefaultGroupName=Rehue
OutputBaseFilename=rehue-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes

[Files]
Source: "..\..\dist\rehue\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\Rehue"; Filename: "{app}\rehue.exe"
Name: "{autodesktop}\Rehue"; Filename: "{app}\rehue.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop icon"; Flags: unchecked

[Registry]
; "Open with Rehue" for JPEG, PNG and TIFF (added to the list, not made the default).
Root: HKA; Subkey: "Software\Classes\Applications\rehue.exe\shell\open\command"; ValueType: string; ValueData: """{app}\rehue.exe"" ""%1"""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithList\rehue.exe"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.png\OpenWithList\rehue.exe"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.tif\OpenWithList\rehue.exe"; Flags: uninsdeletekey
